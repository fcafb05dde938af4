"""Live identity: a track never carries one person's name onto another face, on the live page and on
fixed cameras, in the overlay and in the log; registered people are still named within a second."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from detection.engine.masking import draw_mask
from detection.engine.pipeline import get_pipeline
from detection.models import DetectionLog
from detection.services.consent import Declaration
from detection.services.enrolment import enrol
from detection.services.live import LiveSession
from detection.services.registry import create_person
from maskportal.asgi import application
from tests.conftest import SHARED_DATASETS, shared_dataset
from tests.detection import live_scenario
from tests.detection.registry_photos import other_face
from tests.photos import face_photo, in_frame
from tests.sockets import close, token_header

pytestmark = pytest.mark.django_db(transaction=True)


def largest_face(image: np.ndarray):
    return max(get_pipeline("accurate").detect(image), key=lambda d: d.width * d.height)


def masked(photo: np.ndarray) -> np.ndarray:
    return draw_mask(photo, largest_face(photo).landmarks)


def at_the_spot_of(photo: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """A camera frame of `photo` scaled and moved so its face is where the face of `frame` is."""
    (x1, y1, x2, y2), (a1, b1, a2, b2) = largest_face(photo).box, largest_face(frame).box
    scale = (a2 - a1) / (x2 - x1)
    move = np.float32([[scale, 0, (a1 + a2 - scale * (x1 + x2)) / 2], [0, scale, (b1 + b2 - scale * (y1 + y2)) / 2]])
    return cv2.warpAffine(photo, move, (frame.shape[1], frame.shape[0]), borderValue=(127, 127, 127))


def test_the_next_person_at_the_same_spot_never_gets_the_registered_name():
    """The astronaut is registered; Grace Hopper (bare, then masked) takes her place, then she returns.

    Before the fix the astronaut's track, and name, went on to Grace's face and into the log.
    """
    enrol(create_person(display_name="Eileen Collins", consent=Declaration("consent")), face_photo())
    astronaut = in_frame(face_photo())
    grace, masked_grace = at_the_spot_of(other_face(), astronaut), at_the_spot_of(masked(other_face()), astronaut)
    script = [("Eileen Collins", astronaut), (None, grace), (None, masked_grace), ("Eileen Collins", astronaut)]
    session, events, seen = LiveSession(), [], []
    for who, frame in script:
        for _ in range(8):
            result = session.process_image(frame, len(seen) + 1, now=len(seen) / 10)
            (face,) = result.message["faces"]
            seen.append((who, face["name"], face["recognition"]))
            events += result.events
    logs = session.record(events + session.close())

    assert [name for who, name, _ in seen if name not in (None, who)] == []
    for start in (0, 24):  # named from the third frame (LIVE_CONFIRM_FRAMES), "pending" before
        assert [name for _, name, _ in seen[start : start + 8]] == [None, None] + ["Eileen Collins"] * 6
        assert [state for _, _, state in seen[start : start + 3]] == ["pending", "pending", "confirmed"]
    assert {state for who, _, state in seen if who is None} == {"unknown"}
    # one event per appearance (Grace putting a mask on may or may not be a new track: same person)
    who = [log.summary.split(" with")[0] for log in logs]
    assert who[0] == who[-1] == "Eileen Collins" and set(who[1:-1]) == {"Unknown person"} and len(who) >= 3
    people = [face.person.display_name if face.person else None for log in logs for face in log.faces.all()]
    assert people == [w if w != "Unknown person" else None for w in who]


# -- the test video from ../shared (hard cuts, replacements, masked strangers) ------------------------
def assert_no_wrong_names(result: live_scenario.Score) -> None:
    assert result.wrong_names == []
    assert result.unknowns_named == 0
    assert result.wrong_log_names == []
    assert all(t is not None and t <= 1.0 for t in result.time_to_name), result.time_to_name
    assert result.appearances_not_logged == []


@pytest.fixture
def scenario() -> live_scenario.Scenario:
    shared_dataset("face-recognition-dev")
    shared_dataset("mask-detection-dev")
    scenario = live_scenario.build(SHARED_DATASETS)
    live_scenario.enrol_registered(scenario)
    return scenario


@pytest.mark.shared_data
async def test_the_live_page_names_only_the_right_person(scenario, staff_user):
    token = await database_sync_to_async(Token.objects.create)(user=staff_user)
    live = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver"), token_header(token.key)],
    )
    connected, code = await live.connect(timeout=10)
    assert connected, code
    try:
        messages = await live_scenario.play_socket(live, scenario)
    finally:
        await close(live)  # the open tracks end and are logged
    logs = await database_sync_to_async(live_scenario.logged)(DetectionLog.Source.LIVE)
    assert_no_wrong_names(live_scenario.score(scenario, messages, logs))


@pytest.mark.shared_data
def test_a_fixed_camera_names_only_the_right_person(scenario, tmp_path):
    video = live_scenario.write_video(tmp_path / "slideshow.avi", scenario)
    messages = live_scenario.play_camera(video)
    assert len(messages) == len(scenario.frames)
    logs = live_scenario.logged(DetectionLog.Source.CAMERA)
    assert_no_wrong_names(live_scenario.score(scenario, messages, logs))


def test_a_registered_person_walking_past_stays_one_named_event():
    """The re-checks must not split one person into several events (or lose the name) as they move."""
    enrol(create_person(display_name="Eileen Collins", consent=Declaration("consent")), face_photo())
    frame = in_frame(face_photo())
    session, events, names = LiveSession(), [], []
    for i in range(20):
        result = session.process_image(np.roll(frame, 6 * i - 40, axis=1), i + 1, now=i / 10)
        names += [face["name"] for face in result.message["faces"]]
        events += result.events
    (log,) = session.record(events + session.close())
    assert names == [None, None] + ["Eileen Collins"] * 18
    assert log.summary.startswith("Eileen Collins without a mask") and log.timings_ms["frames"] == 20
