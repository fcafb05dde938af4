"""Turn per-frame faces into tracks, so a person walking past a camera is one event, not fifty rows.

A greedy IoU matcher (with a centroid fallback for fast movement) keeps each track alive for a short
memory after its last sighting. Recognition is asked for once per track, and again (a few times,
spaced out) while the answer is unsure. A track that ends after enough sightings yields one
`TrackEvent` with its mask verdict (mean over sightings), identity and a snapshot of its best frame.
Pure Python + numpy: no Django, clock passed in, so tests are deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from detection.engine.types import WITH_MASK, WITHOUT_MASK, Box


class FaceLike(Protocol):
    box: Box
    score: float
    mask_score: float


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.3
    #: Match by centre distance (in face widths) when boxes barely overlap (fast movement, low fps).
    centroid_distance: float = 0.6
    #: Seconds a track survives without being seen.
    memory_s: float = 1.5
    #: Sightings a track needs before it counts as a person (filters one-frame false positives).
    min_hits: int = 3
    #: Recognition attempts per track while unsure, at least `recognize_every_s` apart.
    max_recognitions: int = 3
    recognize_every_s: float = 1.0
    #: A match this close to the gallery threshold (relative) is re-checked later.
    unsure_margin: float = 0.1
    mask_threshold: float = 0.5


@dataclass
class Track:
    id: int
    box: Box
    started: float
    last_seen: float
    hits: int = 0
    mask_scores: list[float] = field(default_factory=list)
    identity: str | None = None
    distance: float | None = None
    recognitions: int = 0
    last_recognition: float | None = None
    sure: bool = False
    best_area: float = 0.0
    #: The frame where the face was largest, and the face's index in that frame's list.
    snapshot: np.ndarray | None = field(default=None, repr=False)
    snapshot_face: Any = field(default=None, repr=False)

    @property
    def mask_score(self) -> float:
        return float(np.mean(self.mask_scores)) if self.mask_scores else 0.0

    def mask_label(self, threshold: float = 0.5) -> str:
        return WITH_MASK if self.mask_score >= threshold else WITHOUT_MASK


@dataclass(frozen=True)
class TrackEvent:
    """A finished track: what the event log and alerts need."""

    track_id: int
    started: float
    ended: float
    hits: int
    mask: str
    mask_score: float
    identity: str | None
    distance: float | None
    snapshot: np.ndarray | None = field(repr=False)
    face: Any = field(repr=False)


def iou(a: Box, b: Box) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the first box's width."""
    width = max(a[2] - a[0], 1.0)
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / width)


class Tracker:
    """Not thread-safe: one per stream (a browser socket or a camera watcher)."""

    def __init__(self, config: TrackerConfig | None = None, *, recognition_threshold: float | None = None) -> None:
        self.config = config or TrackerConfig()
        self.recognition_threshold = recognition_threshold
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def update(
        self, faces: Sequence[FaceLike], now: float, frame: np.ndarray | None = None
    ) -> tuple[list[Track], list[TrackEvent]]:
        """Assign this frame's faces to tracks; returns the track of each face and finished events."""
        assigned = self._match(faces)
        result: list[Track] = []
        for index, face in enumerate(faces):
            track = assigned.get(index)
            if track is None:
                track = Track(id=next(self._ids), box=tuple(face.box), started=now, last_seen=now)
                self.tracks[track.id] = track
            track.box = tuple(face.box)
            track.last_seen = now
            track.hits += 1
            track.mask_scores.append(float(face.mask_score))
            area = (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])
            if frame is not None and area > track.best_area:
                track.best_area, track.snapshot, track.snapshot_face = area, frame, face
            result.append(track)
        return result, self.expire(now)

    def _match(self, faces: Sequence[FaceLike]) -> dict[int, Track]:
        tracks = list(self.tracks.values())
        if not tracks or not faces:
            return {}
        pairs = []
        for i, face in enumerate(faces):
            for track in tracks:
                overlap = iou(track.box, face.box)
                if overlap >= self.config.iou_threshold:
                    pairs.append((1.0 + overlap, i, track))
                elif _centre_distance(track.box, face.box) <= self.config.centroid_distance:
                    pairs.append((1.0 - _centre_distance(track.box, face.box), i, track))
        pairs.sort(key=lambda p: -p[0])
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for _, i, track in pairs:
            if i not in assigned and track.id not in used:
                assigned[i] = track
                used.add(track.id)
        return assigned

    def expire(self, now: float) -> list[TrackEvent]:
        """End the tracks not seen within the memory; events for those seen often enough."""
        gone = [t for t in self.tracks.values() if now - t.last_seen > self.config.memory_s]
        return [e for e in (self._finish(t) for t in gone) if e is not None]

    def flush(self) -> list[TrackEvent]:
        """End every track (the stream stopped)."""
        return [e for e in (self._finish(t) for t in list(self.tracks.values())) if e is not None]

    def _finish(self, track: Track) -> TrackEvent | None:
        del self.tracks[track.id]
        if track.hits < self.config.min_hits:
            return None
        return TrackEvent(
            track_id=track.id,
            started=track.started,
            ended=track.last_seen,
            hits=track.hits,
            mask=track.mask_label(self.config.mask_threshold),
            mask_score=track.mask_score,
            identity=track.identity,
            distance=track.distance,
            snapshot=track.snapshot,
            face=track.snapshot_face,
        )

    # -- recognition once per track -----------------------------------------------------------
    def needs_recognition(self, track: Track, now: float) -> bool:
        if track.sure or track.recognitions >= self.config.max_recognitions:
            return False
        last = track.last_recognition
        return last is None or now - last >= self.config.recognize_every_s

    def record_recognition(self, track: Track, identity: str | None, distance: float | None, now: float) -> None:
        """Keep the closest answer so far; a clear match ends recognition for this track."""
        track.recognitions += 1
        track.last_recognition = now
        if distance is not None and (track.distance is None or distance < track.distance):
            track.identity, track.distance = identity, distance
        threshold = self.recognition_threshold
        if track.identity is not None and track.distance is not None and threshold:
            track.sure = track.distance <= threshold * (1.0 - self.config.unsure_margin)
