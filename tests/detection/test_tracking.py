"""The tracker turns per-frame faces into tracks: one event per person passing, not one per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.engine.types import WITH_MASK, WITHOUT_MASK
from detection.services.tracking import Tracker, TrackerConfig, iou


@dataclass
class Face:
    box: tuple[float, float, float, float]
    score: float = 0.9
    mask_score: float = 0.1


def walk(tracker, boxes_per_frame, *, fps=10.0, mask_score=0.1, frame=None):
    events, tracks = [], []
    for i, boxes in enumerate(boxes_per_frame):
        faces = [Face(b, mask_score=mask_score) for b in boxes]
        assigned, finished = tracker.update(faces, i / fps, frame=frame)
        tracks.append([t.id for t in assigned])
        events += finished
    return tracks, events


def moving(x0, n, step=8, y=100, size=80):
    return [(x0 + i * step, y, x0 + i * step + size, y + size) for i in range(n)]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


def test_a_person_walking_past_is_one_track_and_one_event():
    tracker = Tracker()
    frame = np.zeros((480, 640, 3), np.uint8)
    tracks, events = walk(tracker, [[b] for b in moving(0, 30)], frame=frame)
    assert len({t[0] for t in tracks}) == 1
    assert events == []  # still in view
    events = tracker.expire(now=10.0)
    assert len(events) == 1
    event = events[0]
    assert event.hits == 30 and event.mask == WITHOUT_MASK and event.snapshot is frame
    assert tracker.tracks == {}
    assert tracker.expire(now=20.0) == []  # never twice


def test_fast_movement_keeps_the_track_by_centroid():
    tracker = Tracker()
    # 40 px steps on an 80 px face: IoU falls under 0.3 but the centre stays within 0.6 widths
    tracks, _ = walk(tracker, [[b] for b in moving(0, 10, step=40)])
    assert len({t[0] for t in tracks}) == 1


def test_two_people_are_two_tracks_and_two_events():
    tracker = Tracker()
    frames = [[a, b] for a, b in zip(moving(0, 10), moving(400, 10, step=-8), strict=True)]
    tracks, _ = walk(tracker, frames)
    assert all(len(set(t)) == 2 for t in tracks)
    assert len({tid for t in tracks for tid in t}) == 2
    assert len(tracker.flush()) == 2


def test_short_memory_bridges_a_gap_but_not_a_long_absence():
    tracker = Tracker(TrackerConfig(memory_s=1.0))
    box = (100, 100, 180, 180)
    first = tracker.update([Face(box)] * 1, 0.0)[0][0].id
    for t in (0.1, 0.2):
        tracker.update([Face(box)], t)
    assert tracker.update([], 0.9)[1] == []  # missed frames inside the memory
    assert tracker.update([Face(box)], 1.0)[0][0].id == first
    _, events = tracker.update([], 2.5)
    assert [e.track_id for e in events] == [first]
    assert tracker.update([Face(box)], 2.6)[0][0].id != first


def test_a_one_frame_flicker_is_no_event():
    tracker = Tracker()
    walk(tracker, [[(0, 0, 50, 50)]])
    assert tracker.flush() == []


def test_mask_verdict_is_the_mean_over_the_track():
    tracker = Tracker()
    for i, score in enumerate([0.9, 0.8, 0.2, 0.95, 0.9]):
        tracker.update([Face((10, 10, 90, 90), mask_score=score)], i * 0.1)
    (event,) = tracker.flush()
    assert event.mask == WITH_MASK and abs(event.mask_score - 0.75) < 1e-9


def test_recognition_runs_once_per_track_when_sure_and_again_when_unsure():
    tracker = Tracker(TrackerConfig(recognize_every_s=1.0, max_recognitions=3), recognition_threshold=0.5)
    (sure,), _ = tracker.update([Face((10, 10, 90, 90))], 0.0)
    assert tracker.needs_recognition(sure, 0.0)
    tracker.record_recognition(sure, "7", 0.2, 0.0)
    assert not tracker.needs_recognition(sure, 5.0)

    (unsure,), _ = tracker.update([Face((300, 10, 380, 90))], 0.0)
    tracker.record_recognition(unsure, None, 0.6, 0.0)
    assert not tracker.needs_recognition(unsure, 0.5)  # spaced out
    assert tracker.needs_recognition(unsure, 1.0)
    tracker.record_recognition(unsure, "9", 0.48, 1.0)  # a match, but close to the threshold
    assert unsure.identity == "9" and tracker.needs_recognition(unsure, 2.0)
    tracker.record_recognition(unsure, None, 0.7, 2.0)  # a worse answer never replaces a better one
    assert unsure.identity == "9" and unsure.distance == 0.48
    assert not tracker.needs_recognition(unsure, 10.0)  # attempts used up
