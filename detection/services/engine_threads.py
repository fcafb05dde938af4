"""Running the engine from Django code: decode an upload, then analyse or detect on the engine's
threads, without touching the database (so callers can keep transactions short)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from django.conf import settings

from detection.engine.imageio import decode_image
from detection.engine.pipeline import Analysis
from detection.engine.types import Detection
from detection.services.engine import pipeline

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _engine_pool() -> ThreadPoolExecutor:
    """Threads for the engine, one a core. Its models are loaded once per thread, and the web
    process serves each request in a thread of its own, so analysing there would hold that many
    copies (a Celery worker's tasks all run in its main thread, which analyses itself)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="engine")
        return _pool


def on_engine_thread(work: Callable[..., T], *args, **kwargs) -> T:
    """`work(*args, **kwargs)` in this thread when it is the main one (long-lived: a worker's task
    thread), else on the engine's threads."""
    if threading.current_thread() is threading.main_thread():
        return work(*args, **kwargs)
    return _engine_pool().submit(work, *args, **kwargs).result()


def decode(image_or_bytes: np.ndarray | bytes) -> tuple[np.ndarray, bytes | None, float]:
    """RGB array, the original bytes (None for arrays) and the decode time in ms.

    Raises `ImageDecodeError` with a user-readable reason for bad input.
    """
    if isinstance(image_or_bytes, np.ndarray):
        return image_or_bytes, None, 0.0
    start = time.perf_counter()
    data = bytes(image_or_bytes)
    image = decode_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    return image, data, (time.perf_counter() - start) * 1000


def analyse(
    image_or_bytes: np.ndarray | bytes, *, mode: str | None = None, recognize: bool = True
) -> tuple[np.ndarray, bytes | None, Analysis]:
    """Decode and analyse without touching the database (so callers can keep transactions short)."""
    image, data, decode_ms = decode(image_or_bytes)
    engine = pipeline(mode)  # synced here: it may read the database, which is per thread
    analysis = on_engine_thread(engine.analyze, image, recognize=recognize)
    analysis.add_decode_time(decode_ms)
    return image, data, analysis


def detect(image: np.ndarray, mode: str | None) -> list[Detection]:
    """Every face the engine finds in an image, on the engine's threads (see `analyse`)."""
    return on_engine_thread(pipeline(mode).detect, image)
