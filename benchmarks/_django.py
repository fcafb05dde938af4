"""Shared set-up of the Django benchmarks: a throwaway database (created and migrated like the
test suite's, on DATABASE_URL's server), a private var/ directory, and the test photos.

Run the benchmarks with DATABASE_URL and REDIS_URL set to measure on PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("MASKPORTAL_VAR_DIR", str(REPO / "var" / "bench"))
os.environ["DJANGO_SETTINGS_MODULE"] = "maskportal.settings.test"
os.environ["MASKPORTAL_BENCHMARK"] = "1"  # production database connection settings
# A benchmark's clients send far more requests than one person would: its own rates, not the product's.
for _scope in ("ANON", "USER", "ANALYSIS"):
    os.environ.setdefault(f"API_THROTTLE_{_scope}", "1000000/minute")


@contextmanager
def throwaway_database():
    """Set Django up on a new migrated database; yields its name (for subprocesses), drops it after."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    config = setup_databases(verbosity=0, interactive=False)
    try:
        yield str(connection.settings_dict["NAME"])
    finally:
        connection.close()
        teardown_databases(config, verbosity=0)


def photos(count: int) -> list[bytes]:
    """`count` distinct 640x480 JPEGs of a real face (the astronaut shifted and mirrored)."""
    import numpy as np

    from tests.photos import encode, face_photo

    face = face_photo()[:400, 60:460]
    out = []
    for i in range(count):
        frame = np.full((480, 640, 3), 120 + (i % 60), dtype=np.uint8)
        x, y = 40 + (i * 7) % 180, 20 + (i * 5) % 60
        frame[y : y + 400, x : x + 400] = face[:, ::-1] if i % 2 else face
        out.append(encode(frame, "JPEG", quality=90))
    return out


def enrol_astronaut(mode: str = "fast") -> None:
    """One registered person, so recognition really runs (recognition on, as in the target)."""
    from detection.models import ConsentRecord, FaceSample, LawfulBasis, Person
    from detection.services.engine import pipeline
    from detection.services.gallery import registry_changed
    from tests.photos import face_photo

    engine = pipeline(mode)
    consent = ConsentRecord.objects.create(lawful_basis=LawfulBasis.CONSENT, note="Benchmark fixture")
    person = Person.objects.create(display_name="Eileen Collins", consent=consent)
    FaceSample.objects.create(
        person=person,
        embedding=engine.embed(face_photo()).astype("<f4").tobytes(),
        embedding_model=engine.config.recognizer,
    )
    registry_changed()
