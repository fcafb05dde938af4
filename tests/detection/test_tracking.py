"""The tracker turns per-frame faces into tracks: one event per person passing, not one per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.engine.refine import pair_iou
from detection.engine.types import WITH_MASK, WITHOUT_MASK
from detection.services.tracking import Recognition, Tracker, TrackerConfig


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
    assert pair_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert pair_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(pair_iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


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


class Gallery:
    """Recognition as the tracker sees it: each face's (embedding, name) for this frame, by index;
    `asked` counts the faces embedded. Embeddings are unit vectors; the threshold is SFace's."""

    threshold, metric = 0.58, "cosine"

    def __init__(self) -> None:
        self.answers: list[tuple[np.ndarray, str | None]] = []
        self.asked = 0

    def identify(self, indices):
        self.asked += len(indices)
        answers = [self.answers[i] for i in indices]
        return [Recognition(embedding, name, 0.3 if name else 0.8) for embedding, name in answers]


def person(seed: int) -> np.ndarray:
    """A person's embedding: random unit vectors are ~1.0 apart in cosine distance (different people)."""
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(embedding: np.ndarray, seed: int, spread: float = 0.3) -> np.ndarray:
    """Another frame of the same person (cosine distance ~0.05)."""
    vector = embedding + spread * person(seed) / np.sqrt(2)
    return vector / np.linalg.norm(vector)


BOX = (100, 100, 180, 180)


def see(tracker, gallery, t, *answers, box=BOX, frame=None, mask_score=0.1):
    """One frame with one face per answer (the same spot for the first); returns (tracks, events)."""
    gallery.answers = list(answers)
    boxes = [box] + [(300 + 100 * i, 100, 380 + 100 * i, 180) for i in range(len(answers) - 1)]
    return tracker.update([Face(b, mask_score=mask_score) for b in boxes], t, frame=frame, recognizer=gallery)


def test_a_name_is_shown_and_logged_only_after_consecutive_agreeing_recognitions():
    tracker, gallery, alice = Tracker(TrackerConfig(confirm_frames=3)), Gallery(), person(1)
    shown = []
    for i in range(5):
        (track,), _ = see(tracker, gallery, i * 0.1, (near(alice, i), "alice"))
        shown.append(track.shown_identity)
    assert shown == [None, None, "alice", "alice", "alice"]
    assert gallery.asked == 3  # embedded on every frame while pending, then no more until something changes
    (event,) = tracker.flush()
    assert event.identity == "alice" and event.distance == 0.3


def test_a_flicker_of_a_name_is_never_logged():
    tracker, gallery, face = Tracker(TrackerConfig(confirm_frames=3)), Gallery(), person(1)
    for i, name in enumerate(["alice", "alice", None, "alice", None]):
        (track,), _ = see(tracker, gallery, i * 0.1, (near(face, i), name))
        assert track.shown_identity is None
    (event,) = tracker.flush()
    assert event.identity is None


def test_another_person_at_the_same_spot_starts_a_new_track_without_the_name():
    tracker, gallery = Tracker(TrackerConfig(confirm_frames=2)), Gallery()
    alice, stranger = person(1), person(2)
    for i in range(4):
        (first,), _ = see(tracker, gallery, i * 0.1, (near(alice, i), "alice"))
    assert first.shown_identity == "alice"
    # the stranger's embedding is computed (the tracker re-checks on the recheck interval here) ...
    (track,), events = see(tracker, gallery, 1.5, (stranger, None))
    # ... and is far from the track's: the track ends with alice's event, the stranger is a new, nameless track
    assert track.id != first.id and track.shown_identity is None and track.identity is None
    assert [(e.track_id, e.identity) for e in events] == [(first.id, "alice")]
    for i in range(5):
        (track,), _ = see(tracker, gallery, 1.6 + i, (near(stranger, 10 + i), None))
        assert track.shown_identity is None
    (event,) = tracker.flush()
    assert event.identity is None


def test_a_confirmed_track_matched_to_someone_else_ends_even_when_the_embeddings_are_close():
    tracker, gallery, face = Tracker(TrackerConfig(confirm_frames=1)), Gallery(), person(1)
    for i in range(3):
        (first,), _ = see(tracker, gallery, i * 0.1, (face, "alice"))
    (second,), events = see(tracker, gallery, 1.2, (near(face, 3), "bob"))
    assert second.id != first.id and [e.identity for e in events] == ["alice"]
    assert second.shown_identity == "bob"  # confirm_frames=1: a new track, named on its own evidence


def test_an_unknown_face_never_inherits_the_name_of_the_track():
    """Same embedding neighbourhood, but the gallery no longer matches: the name is hidden, not carried."""
    tracker, gallery, face = Tracker(TrackerConfig(confirm_frames=2)), Gallery(), person(1)
    for i in range(3):
        (track,), _ = see(tracker, gallery, i * 0.1, (near(face, i), "alice"))
    assert track.shown_identity == "alice"
    (track,), _ = see(tracker, gallery, 1.5, (near(face, 9), None))
    assert track.shown_identity is None and track.identity == "alice"  # the same person, turned away
    (track,), _ = see(tracker, gallery, 2.6, (near(face, 10), "alice"))
    assert track.shown_identity == "alice"


def test_a_scene_cut_ends_every_track_and_camera_noise_does_not():
    tracker, gallery = Tracker(TrackerConfig(confirm_frames=1)), Gallery()
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 120, (480, 640, 3), dtype=np.uint8)
    bright = rng.integers(120, 256, (480, 640, 3), dtype=np.uint8)
    alice = person(1)
    for i in range(4):
        noisy = np.clip(dark + rng.normal(0, 10, dark.shape), 0, 255).astype(np.uint8)
        (first, _), events = see(tracker, gallery, i * 0.1, (alice, "alice"), (person(5), None), frame=noisy)
        assert first.hits == i + 1 and events == []  # the same scene, with sensor noise
    (track, _), events = see(tracker, gallery, 0.4, (alice, "alice"), (person(5), None), frame=bright)
    assert track.id != first.id and len(events) == 2  # both people: two events, at the cut
    assert track.hits == 1 and track.shown_identity == "alice"  # recognised again from scratch


def test_a_changed_face_region_or_mask_verdict_is_recognised_again():
    """Between rechecks, a face that no longer looks like it did at its last embedding is embedded."""
    tracker, gallery, alice = Tracker(TrackerConfig(confirm_frames=1, recheck_every_s=10)), Gallery(), person(1)
    frame = np.full((480, 640, 3), 127, np.uint8)
    rng = np.random.default_rng(0)
    frame[100:180, 100:180] = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
    see(tracker, gallery, 0.0, (alice, "alice"), frame=frame)
    see(tracker, gallery, 0.1, (alice, "alice"), frame=frame)
    assert gallery.asked == 1
    other = frame.copy()
    other[100:180, 100:180] = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)  # a different face, same spot
    see(tracker, gallery, 0.2, (alice, "alice"), frame=other)
    assert gallery.asked == 2
    see(tracker, gallery, 0.3, (alice, "alice"), frame=other, mask_score=0.9)  # a mask appeared
    assert gallery.asked == 3
    see(tracker, gallery, 10.4, (alice, "alice"), frame=other, mask_score=0.9)  # the recheck interval
    assert gallery.asked == 4
