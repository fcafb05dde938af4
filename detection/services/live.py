"""One live video stream (a browser socket or a fixed camera): decode a frame within limits, analyse
it with the engine's fast mode, follow faces with a tracker, and turn finished tracks into events.

The same `LiveSession` serves `LiveFrameConsumer` and `watch_camera`, so a browser camera and an
RTSP camera produce the same frame messages and the same events. Recognition runs when the tracker
asks for it (a new face, a name being confirmed, a face that changed, and now and then), not on every
frame; a name is shown and logged only once confirmed. Each finished track is one `DetectionLog`.
"""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections, transaction

from detection.engine.gallery import Gallery
from detection.engine.imageio import ImageDecodeError, decode_image
from detection.engine.pipeline import Analysis, FaceResult, Pipeline
from detection.engine.types import WITH_MASK
from detection.models import Camera, DetectionLog, Person
from detection.services import alerts
from detection.services.engine import pipeline
from detection.services.tracking import Recognition, Track, Tracker, TrackerConfig, TrackEvent
from maskportal import realtime

logger = logging.getLogger(__name__)

JPEG_SOI = b"\xff\xd8\xff"
#: A binary frame is either a JPEG as is, or a 4-byte big-endian frame id followed by the image.
FRAME_HEADER = struct.Struct(">I")


class FrameError(ValueError):
    """A frame we refuse; `code` goes into the error message sent back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def split_frame(data: bytes, fallback_id: int) -> tuple[int, bytes]:
    """(frame id, image bytes) of a binary message; raises FrameError for what cannot be a frame."""
    if len(data) > settings.LIVE_MAX_FRAME_BYTES:
        raise FrameError(
            "frame_too_large", f"frame of {len(data)} bytes exceeds the {settings.LIVE_MAX_FRAME_BYTES} byte limit"
        )
    if data[:3] == JPEG_SOI:
        return fallback_id, data
    if len(data) <= FRAME_HEADER.size:
        raise FrameError("bad_frame", "a frame is a JPEG image, optionally preceded by a 4-byte frame id")
    return FRAME_HEADER.unpack_from(data)[0], data[FRAME_HEADER.size :]


def data_url(jpeg: bytes) -> str:
    """A frame for camera viewers, who cannot open the stream themselves."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@dataclass
class FrameResult:
    message: dict[str, Any]
    events: list[TrackEvent]


class LiveSession:
    """State of one stream; not thread-safe (callers run one frame at a time per session)."""

    def __init__(self, *, user=None, camera: Camera | None = None, source: str = DetectionLog.Source.LIVE) -> None:
        self.user = user
        self.camera = camera
        self.source = source
        self.mode = settings.ENGINE_LIVE_MODE
        self.tracker = Tracker(tracker_config())
        self._names: dict[str, str] = {}

    # -- per frame -------------------------------------------------------------------------------
    def process_bytes(self, data: bytes, frame_id: int, now: float | None = None) -> FrameResult:
        """Decode an untrusted frame (raising FrameError) and analyse it."""
        start = time.perf_counter()
        try:
            image = decode_image(data, max_pixels=settings.LIVE_MAX_FRAME_PIXELS)
        except ImageDecodeError as exc:
            raise FrameError("bad_frame", str(exc)) from exc
        return self.process_image(image, frame_id, now=now, decode_ms=(time.perf_counter() - start) * 1000)

    def process_image(
        self, image: np.ndarray, frame_id: int, *, now: float | None = None, decode_ms: float = 0.0
    ) -> FrameResult:
        now = time.monotonic() if now is None else now
        engine = pipeline(self.mode)
        analysis = engine.analyze(image, recognize=False)
        analysis.add_decode_time(decode_ms)
        t_track = time.perf_counter()
        recognizer = FrameRecognizer.of(engine, image, analysis.faces)
        tracks, events = self.tracker.update(analysis.faces, now, frame=image, recognizer=recognizer)
        recognize_ms = recognizer.milliseconds if recognizer else 0.0
        timings = analysis.to_dict()["timings_ms"]
        timings["recognize"] = round(recognize_ms, 2)
        timings["track"] = round((time.perf_counter() - t_track) * 1000 - recognize_ms, 2)
        timings["total"] = round(timings["total"] + (time.perf_counter() - t_track) * 1000, 2)
        faces = [self._face_dict(face, track) for face, track in zip(analysis.faces, tracks, strict=True)]
        message = realtime.message(
            "frame", frame=frame_id, width=analysis.width, height=analysis.height, faces=faces, timings_ms=timings
        )
        if self.camera is not None:
            message["camera"] = self.camera.pk
        return FrameResult(message, events)

    def _face_dict(self, face: FaceResult, track: Track) -> dict[str, Any]:
        """The face as the overlay draws it: a name only once confirmed and while it still matches."""
        out = face.to_dict()
        identity = track.shown_identity
        out.update(
            identity=identity,
            name=self.name_of(identity),
            distance=None if track.distance is None else round(track.distance, 4),
            recognition="confirmed" if identity else "pending" if track.pending else "unknown",
            track=track.id,
        )
        return out

    def name_of(self, identity: str | None) -> str | None:
        """Display name of a gallery identity (person id), cached for the session."""
        if identity is None:
            return None
        if identity not in self._names:
            close_old_connections()
            person = Person.objects.filter(pk=int(identity)).first() if identity.isdigit() else None
            self._names[identity] = person.display_name if person else f"#{identity}"
        return self._names[identity]

    # -- events ----------------------------------------------------------------------------------
    def close(self) -> list[TrackEvent]:
        """The stream stopped: every open track ends now."""
        return self.tracker.flush()

    def record(self, events: list[TrackEvent]) -> list[DetectionLog]:
        """Log each finished track once, with its snapshot, and raise its alerts; never raises."""
        logs = []
        for event in events:
            if event.snapshot is None or event.face is None:
                continue
            close_old_connections()
            try:
                logs.append(self._record(event, event.snapshot))
            except Exception:  # one bad event must not end the stream
                logger.exception("could not record live event for track %s", event.track_id)
        return logs

    def _record(self, event: TrackEvent, snapshot: np.ndarray) -> DetectionLog:
        from detection.services.analysis import analyse_and_log

        face = replace(
            event.face, identity=event.identity, distance=event.distance, mask=event.mask, mask_score=event.mask_score
        )
        h, w = snapshot.shape[:2]
        analysis = Analysis(width=w, height=h, faces=[face], timings_ms={})
        summary = event_summary(self.name_of(event.identity), event.mask, self.place())
        with transaction.atomic():
            log = analyse_and_log(
                snapshot,
                user=self.user,
                source=self.source,
                camera=self.camera,
                mode=self.mode,
                analysis=analysis,
                original_name=f"track {event.track_id}",
            )
            log.summary = summary
            duration = round(event.ended - event.started, 2)
            log.timings_ms = {**log.timings_ms, "duration_s": duration, "frames": event.hits}
            log.save(update_fields=["summary", "timings_ms"])
            alerts.raise_for(log, mask=event.mask, known=event.identity is not None)
        if self.camera is not None:
            realtime.publish(
                realtime.camera_group(self.camera.pk),
                realtime.message(
                    "detection",
                    log_id=log.pk,
                    camera=self.camera.name,
                    summary=summary,
                    track=event.track_id,
                ),
            )
        return log

    def place(self) -> str:
        if self.camera is not None:
            return self.camera.location or self.camera.name
        name = getattr(self.user, "username", "")
        return f"the live page of {name}" if name else "the live page"


def tracker_config() -> TrackerConfig:
    """The tracker's identity settings from Django settings (the rest are the tracker's defaults)."""
    return TrackerConfig(confirm_frames=settings.LIVE_CONFIRM_FRAMES, recheck_every_s=settings.LIVE_RECHECK_S)


class FrameRecognizer:
    """Embeds and matches, against the engine's gallery, the faces of one frame the tracker asks
    for; counts the milliseconds spent."""

    def __init__(self, engine: Pipeline, gallery: Gallery, image: np.ndarray, faces: list[FaceResult]) -> None:
        self.engine, self.gallery, self.image, self.faces = engine, gallery, image, faces
        self.threshold, self.metric = gallery.threshold, gallery.metric
        self.milliseconds = 0.0

    @classmethod
    def of(cls, engine: Pipeline, image: np.ndarray, faces: list[FaceResult]) -> FrameRecognizer | None:
        """None when nobody is registered: no names to give, nothing to embed."""
        gallery = engine.gallery
        return cls(engine, gallery, image, faces) if gallery is not None and len(gallery) else None

    def identify(self, indices: Sequence[int]) -> list[Recognition]:
        start = time.perf_counter()
        embeddings = self.engine.recognizer.embed_many(self.image, [self.faces[i].detection for i in indices])
        matches = self.gallery.match(embeddings)
        self.milliseconds += (time.perf_counter() - start) * 1000
        return [Recognition(e, m.identity, m.distance) for e, m in zip(embeddings, matches, strict=True)]


def event_summary(name: str | None, mask: str, place: str) -> str:
    """'Unknown person without a mask at Entrance A'."""
    who = name or "Unknown person"
    return f"{who} {'with' if mask == WITH_MASK else 'without'} a mask at {place}"[:300]
