"""Turn per-frame faces into tracks, so a person walking past a camera is one event, not fifty rows,
and never give one person's name to another face.

A greedy IoU matcher (with a centroid fallback for fast movement) keeps each track alive for a short
memory after its last sighting. A track that ends after enough sightings yields one `TrackEvent`
with its mask verdict (mean over sightings), identity and a snapshot of its best frame.

Identity rules (one place for the browser live page and the fixed cameras):
- a scene cut (consecutive frames that differ as a whole) ends every track;
- a face is embedded again whenever its region stops looking like it did at its last embedding, its
  mask verdict flips, at least every `recheck_every_s`, and on every frame while a name is pending;
- every embedding is compared with the track's previous and first embeddings: farther than the
  recognizer's own "same person" distance, or matched to someone else than the track's name, and the
  track ends: the face starts a new track with no name;
- a name is confirmed only after `confirm_frames` consecutive recognitions agree; only a confirmed
  name is shown and logged, and only while the latest recognition agrees with it.
Pure Python + numpy + OpenCV: no Django, clock passed in, so tests are deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from detection.engine.refine import pair_iou
from detection.engine.types import WITH_MASK, WITHOUT_MASK, Box

#: Side of the grey face thumbnail compared between frames (16x16 tells two people apart, cheaply).
LOOK_SIZE = 16
#: Size of the frame thumbnail compared for scene cuts, and histogram bins per Lab channel.
SCENE_SIZE = (64, 48)
SCENE_BINS = 32


class FaceLike(Protocol):
    @property
    def box(self) -> Box: ...

    @property
    def score(self) -> float: ...

    @property
    def mask_score(self) -> float: ...


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.3
    #: Match by centre distance (in face widths) when boxes barely overlap (fast movement, low fps).
    centroid_distance: float = 0.6
    #: Seconds a track survives without being seen.
    memory_s: float = 1.5
    #: Sightings a track needs before it counts as a person (filters one-frame false positives).
    min_hits: int = 3
    mask_threshold: float = 0.5
    #: Consecutive recognitions that must agree before a track carries a name (overlay and log).
    confirm_frames: int = 3
    #: A face is embedded and checked again at least this often, even when nothing seems to change.
    recheck_every_s: float = 1.0
    #: Embedding distance, relative to the gallery threshold, beyond which two sightings are two people.
    jump_factor: float = 1.0
    #: Correlation of the grey face thumbnail with the one at the last embedding under which the face
    #: is embedded again (different people at one spot stay under 0.85; one person moving, above).
    look_similarity: float = 0.85
    #: A change of mask probability this large since the last embedding also asks for a new embedding.
    mask_change: float = 0.5
    #: A scene cut (every track ends) changes the picture as a whole: the colour distribution of the
    #: frame (mean Bhattacharyya distance of its L, a, b histograms) by more than `scene_cut_histogram`
    #: AND its pixels by more than `scene_cut_pixels` on average (0-255). Noise, exposure changes
    #: and a person moving stay under one or the other; a new scene passes both.
    scene_cut_histogram: float = 0.15
    scene_cut_pixels: float = 12.0


@dataclass(frozen=True)
class Recognition:
    """One face's embedding and its best gallery match (`identity` None: nobody close enough)."""

    embedding: np.ndarray = field(repr=False)
    identity: str | None
    distance: float | None


class Recognizer(Protocol):
    """What the tracker needs from recognition for one frame: embed and match the faces at the given
    indices (one batch), and the gallery's metric and threshold to judge embedding jumps."""

    threshold: float
    metric: str

    def identify(self, indices: Sequence[int]) -> Sequence[Recognition]: ...


@dataclass
class Track:
    id: int
    box: Box
    started: float
    last_seen: float
    hits: int = 0
    mask_scores: list[float] = field(default_factory=list)
    #: The confirmed name (what the log records); None until `confirm_frames` recognitions agree.
    identity: str | None = None
    #: Distance of the closest recognition that agrees with `identity` (the nearest one while unknown).
    distance: float | None = None
    #: Whether the latest recognition agrees with `identity`: only then is the name shown.
    showing: bool = False
    #: The name the latest recognitions agree on, and how many in a row.
    candidate: str | None = None
    streak: int = 0
    streak_distance: float | None = None
    recognitions: int = 0
    last_recognition: float | None = None
    first_embedding: np.ndarray | None = field(default=None, repr=False)
    last_embedding: np.ndarray | None = field(default=None, repr=False)
    #: The face thumbnail and mask probability at the last embedding (what "changed" is measured from).
    look: np.ndarray | None = field(default=None, repr=False)
    look_mask_score: float = 0.0
    best_area: float = 0.0
    #: The frame where the face was largest, and the face's index in that frame's list.
    snapshot: np.ndarray | None = field(default=None, repr=False)
    snapshot_face: Any = field(default=None, repr=False)

    @property
    def mask_score(self) -> float:
        return float(np.mean(self.mask_scores)) if self.mask_scores else 0.0

    def mask_label(self, threshold: float = 0.5) -> str:
        return WITH_MASK if self.mask_score >= threshold else WITHOUT_MASK

    @property
    def shown_identity(self) -> str | None:
        """The name to show on this frame's face: confirmed, and agreed with by the latest recognition."""
        return self.identity if self.showing else None

    @property
    def pending(self) -> bool:
        """A name is being confirmed (or re-confirmed) but not shown yet."""
        return self.candidate is not None and not self.showing


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


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the first box's width."""
    width = max(a[2] - a[0], 1.0)
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / width)


def embedding_distance(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """The gallery's distance between two embeddings (cosine: 1 - cosine similarity)."""
    if metric == "cosine":
        return float(1.0 - a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


def face_look(frame: np.ndarray, box: Box) -> np.ndarray:
    """Zero-mean, unit-norm grey thumbnail of the face region (zeros for a flat region)."""
    h, w = frame.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return np.zeros(LOOK_SIZE * LOOK_SIZE, np.float32)
    crop = frame[y1:y2, x1:x2]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    vector = cv2.resize(grey, (LOOK_SIZE, LOOK_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    vector -= vector.mean()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-3 * LOOK_SIZE else np.zeros_like(vector)


def look_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two face thumbnails (1: same look; two flat regions count as alike)."""
    if not a.any() and not b.any():
        return 1.0
    return float(a @ b)


@dataclass(frozen=True)
class Scene:
    """What the scene-cut test keeps of a frame: a small Lab copy and its per-channel histograms."""

    lab: np.ndarray = field(repr=False)
    histograms: np.ndarray = field(repr=False)


def scene_of(frame: np.ndarray) -> Scene:
    step = max(1, frame.shape[1] // (2 * SCENE_SIZE[0]))  # every few pixels first: 4x cheaper than all
    small = cv2.resize(np.ascontiguousarray(frame[::step, ::step]), SCENE_SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    bins = lab.reshape(-1, 3) // (256 // SCENE_BINS)
    histograms = np.stack([np.bincount(bins[:, c], minlength=SCENE_BINS) for c in range(3)]).astype(np.float64)
    return Scene(lab.astype(np.int16), histograms / histograms.sum(axis=1, keepdims=True))


def scene_change(a: Scene, b: Scene) -> tuple[float, float]:
    """(mean Bhattacharyya distance of the histograms, mean absolute pixel difference) of two frames."""
    overlap = np.sqrt(a.histograms * b.histograms).sum(axis=1)
    histogram = float(np.sqrt(np.clip(1.0 - overlap, 0.0, 1.0)).mean())
    return histogram, float(np.abs(a.lab - b.lab).mean())


class Tracker:
    """Not thread-safe: one per stream (a browser socket or a camera watcher)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)
        self._scene: Scene | None = None

    def update(
        self,
        faces: Sequence[FaceLike],
        now: float,
        frame: np.ndarray | None = None,
        recognizer: Recognizer | None = None,
    ) -> tuple[list[Track], list[TrackEvent]]:
        """Assign this frame's faces to tracks, recognising those that need it (see the module's
        rules); returns the track of each face and the events of the tracks that ended."""
        events = self._scene_cut(frame) if frame is not None else []
        assigned = self._match(faces)
        looks = [None if frame is None else face_look(frame, face.box) for face in faces]
        recognitions: dict[int, Recognition] = {}
        if recognizer is not None:
            todo = [i for i, face in enumerate(faces) if self._needs_recognition(assigned.get(i), face, looks[i], now)]
            if todo:
                recognitions = dict(zip(todo, recognizer.identify(todo), strict=True))
        result: list[Track] = []
        for index, face in enumerate(faces):
            track = assigned.get(index)
            recognition = recognitions.get(index)
            if track is not None and recognition is not None and self._is_someone_else(track, recognition, recognizer):
                events += self._end(track)
                track = None
            if track is None:
                track = Track(id=next(self._ids), box=_as_box(face.box), started=now, last_seen=now)
                self.tracks[track.id] = track
            self._sighting(track, face, now, frame)
            if recognition is not None:
                self._recognised(track, recognition, looks[index], float(face.mask_score), now)
            result.append(track)
        return result, events + self.expire(now)

    def _scene_cut(self, frame: np.ndarray) -> list[TrackEvent]:
        """End every track when this frame is a different scene from the last one."""
        scene, previous = scene_of(frame), self._scene
        self._scene = scene
        if previous is None or previous.lab.shape != scene.lab.shape:
            return []
        histogram, pixels = scene_change(previous, scene)
        if histogram <= self.config.scene_cut_histogram or pixels <= self.config.scene_cut_pixels:
            return []
        return [e for track in list(self.tracks.values()) for e in self._end(track)]

    def _sighting(self, track: Track, face: FaceLike, now: float, frame: np.ndarray | None) -> None:
        track.box = _as_box(face.box)
        track.last_seen = now
        track.hits += 1
        track.mask_scores.append(float(face.mask_score))
        area = (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])
        if frame is not None and area > track.best_area:
            track.best_area, track.snapshot, track.snapshot_face = area, frame, face

    def _match(self, faces: Sequence[FaceLike]) -> dict[int, Track]:
        tracks = list(self.tracks.values())
        if not tracks or not faces:
            return {}
        pairs = []
        for i, face in enumerate(faces):
            for track in tracks:
                overlap = pair_iou(track.box, face.box)
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

    # -- identity -------------------------------------------------------------------------------
    def _needs_recognition(self, track: Track | None, face: FaceLike, look: np.ndarray | None, now: float) -> bool:
        """Embed a new face, a pending name, a face that changed, and every face now and then."""
        if track is None or track.last_recognition is None or track.pending:
            return True
        if now - track.last_recognition >= self.config.recheck_every_s:
            return True
        if abs(float(face.mask_score) - track.look_mask_score) >= self.config.mask_change:
            return True
        if look is None or track.look is None:
            return False
        return look_similarity(look, track.look) < self.config.look_similarity

    def _is_someone_else(self, track: Track, recognition: Recognition, recognizer: Recognizer | None) -> bool:
        """The embedding jumped away from the track's, or matched a person other than its name."""
        if track.identity is not None and recognition.identity not in (None, track.identity):
            return True
        if recognizer is None:
            return False
        limit = recognizer.threshold * self.config.jump_factor
        return any(
            reference is not None and embedding_distance(reference, recognition.embedding, recognizer.metric) > limit
            for reference in (track.last_embedding, track.first_embedding)
        )

    def _recognised(self, track: Track, recognition: Recognition, look: np.ndarray | None, mask: float, now: float):
        """Count agreeing recognitions; confirm a name after `confirm_frames` in a row."""
        track.recognitions += 1
        track.last_recognition = now
        track.last_embedding = recognition.embedding
        if track.first_embedding is None:
            track.first_embedding = recognition.embedding
        track.look, track.look_mask_score = look, mask
        name, distance = recognition.identity, recognition.distance
        if name is not None and name == track.candidate:
            track.streak += 1
            track.streak_distance = _closest(track.streak_distance, distance)
        else:
            track.candidate, track.streak, track.streak_distance = name, int(name is not None), distance
        if track.identity is None and name is not None and track.streak >= self.config.confirm_frames:
            track.identity, track.distance = name, track.streak_distance
        elif name == track.identity:
            track.distance = _closest(track.distance, distance)
        track.showing = track.identity is not None and name == track.identity

    # -- ending tracks --------------------------------------------------------------------------
    def expire(self, now: float) -> list[TrackEvent]:
        """End the tracks not seen within the memory; events for those seen often enough."""
        gone = [t for t in self.tracks.values() if now - t.last_seen > self.config.memory_s]
        return [e for t in gone for e in self._end(t)]

    def flush(self) -> list[TrackEvent]:
        """End every track (the stream stopped)."""
        return [e for t in list(self.tracks.values()) for e in self._end(t)]

    def _end(self, track: Track) -> list[TrackEvent]:
        """Remove the track; its event (none for a flicker of fewer than `min_hits` sightings)."""
        del self.tracks[track.id]
        if track.hits < self.config.min_hits:
            return []
        event = TrackEvent(
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
        return [event]


def _as_box(box: Sequence[float]) -> Box:
    x1, y1, x2, y2 = box
    return (float(x1), float(y1), float(x2), float(y2))


def _closest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)
