"""A live-identity test video from ../shared/datasets: portraits of `face-recognition-dev` people shown
one after another at the same spot (hard cuts, one person replacing another), on a grey wall and on
`mask-detection-dev` street photos (whose own faces are strangers, most of them masked), with an
unregistered stranger and a stranger wearing a drawn mask among the registered people.

Who is at the spot in every frame is known, so a run can be scored: a name on a face that is not
that person is wrong, and each registered person must be named within a second of appearing.
Used by the shared-data test (through the live socket and a fixed camera) and by
benchmarks/live_identity.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from detection.engine.imageio import decode_image
from detection.engine.masking import draw_mask
from detection.engine.pipeline import get_pipeline

FPS = 10
#: Frames each person stays (1.2 s at FPS).
SEGMENT = 12
SIZE = (640, 480)
#: Where the person stands: the portrait fills this box (x1, y1, x2, y2).
SPOT = (200, 100, 440, 340)
#: Registered from their first photo, shown with their second.
REGISTERED = ("Abdullah_Gul", "Alejandro_Toledo", "Benjamin_Netanyahu", "Cameron_Diaz")
#: Never registered; the second is shown with a drawn mask.
STRANGERS = ("Bob_Hope", "Billy_Crystal")
#: Street photos of mask-detection-dev used as scenes (their faces are unregistered, mostly masked).
STREETS = ("maksssksksss103.jpg", "maksssksksss131.jpg", "maksssksksss148.jpg")

#: (scene: a street photo index or None for the grey wall, who stands at the spot or None, masked)
SCRIPT: tuple[tuple[int | None, str | None, bool], ...] = (
    # the case: registered people and a stranger replacing each other at one spot, hard cuts
    (None, REGISTERED[0], False),
    (None, REGISTERED[1], False),
    (None, REGISTERED[2], False),
    (None, STRANGERS[0], False),
    (None, REGISTERED[0], False),
    (None, STRANGERS[1], True),  # a masked stranger where a registered person just stood
    (None, REGISTERED[3], False),
    # scene cuts to street photos full of (masked) strangers, people replacing each other there too
    (0, REGISTERED[1], False),
    (0, STRANGERS[0], False),
    (1, None, False),
    (1, REGISTERED[2], False),
    (2, STRANGERS[1], True),
    (2, REGISTERED[3], False),
    (None, REGISTERED[0], False),
)


def display_name(folder: str) -> str:
    return folder.replace("_", " ")


@dataclass
class Scenario:
    frames: list[np.ndarray]
    #: Display name of the person at the spot in each frame (None: nobody there).
    truth: list[str | None]
    #: First frame of each appearance of a registered person: (frame index, display name).
    appearances: list[tuple[int, str]]
    #: Photos to register, by display name.
    enrolment: dict[str, np.ndarray] = field(repr=False)


def _photo(root: Path, folder: str, index: int) -> np.ndarray:
    return decode_image(sorted((root / folder).glob("*.jpg"))[index])


def _portrait(image: np.ndarray, masked: bool) -> np.ndarray:
    """The central face of a 250x250 LFW photo (neighbours cut away), sized to the spot."""
    if masked:
        faces = get_pipeline("accurate").detect(image)
        centre = max(faces, key=lambda d: d.width * d.height)
        image = draw_mask(image, centre.landmarks)
    crop = image[40:210, 40:210]
    return cv2.resize(crop, (SPOT[2] - SPOT[0], SPOT[3] - SPOT[1]), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1)
def build(datasets: Path) -> Scenario:
    """The frames (RGB, 640x480) of the whole script, each person held for SEGMENT frames with a
    pixel or two of jitter, as a camera sees someone standing still."""
    people = datasets / "face-recognition-dev"
    streets = [
        cv2.resize(decode_image(datasets / "mask-detection-dev" / "images" / name), SIZE, interpolation=cv2.INTER_AREA)
        for name in STREETS
    ]
    wall = np.full((SIZE[1], SIZE[0], 3), 127, np.uint8)
    frames, truth, appearances = [], [], []
    for scene, who, masked in SCRIPT:
        background = wall if scene is None else streets[scene]
        portrait = None if who is None else _portrait(_photo(people, who, 1), masked)
        if who in REGISTERED:
            appearances.append((len(frames), display_name(who)))
        for i in range(SEGMENT):
            frame = background.copy()
            if portrait is not None:
                dx, dy = (i % 3) - 1, (i % 2)
                frame[SPOT[1] + dy : SPOT[3] + dy, SPOT[0] + dx : SPOT[2] + dx] = portrait
            frames.append(frame)
            truth.append(None if who is None else display_name(who))
    enrolment = {display_name(p): _photo(people, p, 0) for p in REGISTERED}
    return Scenario(frames, truth, appearances, enrolment)


def at_spot(box: Iterable[float]) -> bool:
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return SPOT[0] <= cx <= SPOT[2] and SPOT[1] <= cy <= SPOT[3]


@dataclass
class Score:
    frames: int
    faces: int
    #: Overlay faces named as someone they are not (strangers named included).
    wrong_names: list[str]
    #: Overlay faces of unregistered people (strangers, street faces) that carried any name.
    unknowns_named: int
    #: Seconds from each registered person's appearance to the first frame showing their name
    #: (None: never named while there).
    time_to_name: list[float | None]
    #: Logged events whose name is not the person of every frame of their track.
    wrong_log_names: list[str]
    #: Registered appearances with no logged event naming them.
    appearances_not_logged: list[str]

    def to_dict(self) -> dict:
        named = [t for t in self.time_to_name if t is not None]
        return {
            "frames": self.frames,
            "faces": self.faces,
            "wrong_names": len(self.wrong_names),
            "unknowns_named": self.unknowns_named,
            "appearances": len(self.time_to_name),
            "named_appearances": len(named),
            "time_to_name_s": {
                "p50": float(np.median(named)) if named else None,
                "max": max(named) if named else None,
            },
            "wrong_log_names": len(self.wrong_log_names),
            "appearances_not_logged": len(self.appearances_not_logged),
        }


def score(scenario: Scenario, messages: dict[int, dict], logs: list[tuple[str, str | None]]) -> Score:
    """Score the overlay `messages` (frame index -> the `frame` message) and the logged events
    (`original_name` "track N", the logged person's name or None)."""
    registered = {display_name(p) for p in REGISTERED}
    wrong, unknowns_named, faces = [], 0, 0
    named_at: dict[str, list[int]] = defaultdict(list)
    track_truth: dict[int, set] = defaultdict(set)
    track_frames: dict[int, list[int]] = defaultdict(list)
    for index, message in sorted(messages.items()):
        for face in message["faces"]:
            faces += 1
            who = scenario.truth[index] if at_spot(face["box"]) else None
            track_truth[face["track"]].add(who)
            track_frames[face["track"]].append(index)
            name = face.get("name")
            if name is None:
                continue
            if name != who:
                wrong.append(f"frame {index}: {name!r} on {who or 'a stranger'}")
            if who not in registered:
                unknowns_named += 1
            elif name == who:
                named_at[who].append(index)
    time_to_name = []
    for start, who in scenario.appearances:
        first = next((i for i in named_at[who] if start <= i < start + SEGMENT), None)
        time_to_name.append(None if first is None else (first - start) / FPS)
    wrong_log, logged = [], set()
    for original_name, name in logs:
        track = int(original_name.split()[-1])
        if name is None:
            continue
        if track_truth.get(track) != {name}:
            wrong_log.append(f"track {track} logged as {name!r}, was {sorted(map(str, track_truth.get(track, [])))}")
        else:
            logged.update((f, name) for f in track_frames[track])
    not_logged = [
        f"{who} at frame {start}"
        for start, who in scenario.appearances
        if not any((i, who) in logged for i in range(start, start + SEGMENT))
    ]
    return Score(len(messages), faces, wrong, unknowns_named, time_to_name, wrong_log, not_logged)


# -- playing the video through the product --------------------------------------------------------
def enrol_registered(scenario: Scenario) -> None:
    """Register each person from one photo (the platform's enrolment, with its drawn-mask variants)."""
    from detection.services.consent import Declaration
    from detection.services.enrolment import enrol
    from detection.services.gallery import registry_changed
    from detection.services.registry import create_person

    for name, photo in scenario.enrolment.items():
        person = create_person(display_name=name, consent=Declaration("consent"))
        enrol(person, photo, allow_largest=True, notify=False)
    registry_changed()


def jpeg(frame: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


async def play_socket(communicator, scenario: Scenario, fps: float = FPS) -> dict[int, dict]:
    """Send every frame over a connected /ws/live/ socket at `fps` (never faster than the answers
    come back, so no frame is dropped); returns frame index -> the `frame` message."""
    import asyncio
    import struct
    import time

    messages: dict[int, dict] = {}
    start = time.monotonic()
    for index, frame in enumerate(scenario.frames):
        await asyncio.sleep(max(0.0, start + index / fps - time.monotonic()))
        await communicator.send_to(bytes_data=struct.pack(">I", index + 1) + jpeg(frame))
        while True:
            message = await communicator.receive_json_from(timeout=60)
            if message["type"] == "frame":
                break
            assert message["type"] == "detection", message
        assert message["frame"] == index + 1
        messages[index] = message
    return messages


def write_video(path: Path, scenario: Scenario, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    for frame in scenario.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def play_camera(video: Path, fps: float = FPS) -> dict[int, dict]:
    """Watch the video file as a fixed camera (the real watcher, unpaced); returns frame index ->
    the `frame` message it published for viewers."""
    from detection.models import Camera
    from detection.services.cameras import CameraWatcher

    camera = Camera.objects.create(
        name="Door", location="Entrance A", kind=Camera.Kind.FILE, url=str(video), max_fps=fps
    )
    watcher = CameraWatcher(camera, paced=False)
    messages: dict[int, dict] = {}
    analyse = watcher.session.process_image

    def observed(image, frame_id, **kwargs):
        result = analyse(image, frame_id, **kwargs)
        messages[frame_id - 1] = result.message
        return result

    watcher.session.process_image = observed
    watcher.run()
    return messages


def logged(source: str) -> list[tuple[str, str | None]]:
    """(original_name, the logged person's name) of every logged event of a source."""
    from detection.models import DetectedFace

    rows = DetectedFace.objects.filter(log__source=source).select_related("log", "person")
    return [(row.log.original_name, row.person.display_name if row.person else None) for row in rows]
