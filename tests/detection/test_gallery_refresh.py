"""The gallery refresh reaches another process: a long-lived Django process recognises the same
photo before and after the registry changes here, without a restart."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from detection.services import subjects
from detection.services.enrolment import enrol
from tests.conftest import REPO
from tests.detection.registry_photos import jpeg
from tests.factories import PersonFactory
from tests.photos import face_photo

# Reads a line per round from stdin, waits past the engine's once-a-second version check, and
# prints who the astronaut is according to its own shared pipeline.
SCRIPT = """
import json, sys, time
import django
django.setup()
from detection.services.gallery import recognise
from tests.photos import face_photo
image = face_photo()
for line in sys.stdin:
    time.sleep(1.1)
    faces = recognise(image)
    print(json.dumps([f.person.pk if f.person else None for f in faces]), flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_a_second_process_sees_enrolment_and_deletion():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="maskportal.settings.test",
        MASKPORTAL_VAR_DIR=str(settings.VAR_DIR),
        MASKPORTAL_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def ask() -> list:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, f"the second process died (exit {proc.poll()})"
        return json.loads(line)

    try:
        assert ask() == [None]  # nobody registered yet
        person = PersonFactory(display_name="Eileen Collins")
        enrol(person, jpeg(face_photo()))
        assert ask() == [person.pk]
        subjects.erase_person(person)
        assert ask() == [None]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
