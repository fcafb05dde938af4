"""The engine as Django processes use it: one shared Pipeline per mode, kept in step with the
face registry and the active classifier version.

Web, worker and camera processes each hold their own models. When the registry changes or a
model is activated, a version number in the shared cache is bumped; every process compares it
(at most once a second, one cache read) before its next analysis and reloads what changed.
While the cache (Redis) is unreachable, analysis goes on with the versions last seen, and a change
made meanwhile is announced again once the cache answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from detection.engine.gallery import Gallery
from detection.engine.pipeline import Pipeline, PipelineConfig, get_pipeline
from maskportal.outages import broker_errors

logger = logging.getLogger(__name__)

GALLERY_VERSION_KEY = "maskportal:gallery-version"
MODEL_VERSION_KEY = "maskportal:model-version"
CHECK_INTERVAL_S = 1.0

_state_lock = threading.Lock()
_reload_lock = threading.Lock()
#: id(pipeline) -> (gallery version, model version) it was last synced to
_synced: dict[int, tuple[int, int]] = {}
_last_check: dict[int, float] = {}
#: Changes this process could not announce (the cache was down), announced at the next sync.
_unannounced: set[str] = set()

#: Where the registry's gallery and the active classifier come from. The modules that own them
#: (detection.services.gallery, training.services.registry) register these when their app is ready,
#: so this module depends on neither and the dependencies run one way.
GalleryBuilder = Callable[[Pipeline], Gallery]
ModelLocator = Callable[[], tuple[Path | None, str]]
_gallery_builder: GalleryBuilder | None = None
_model_locator: ModelLocator | None = None


def register_gallery_builder(builder: GalleryBuilder) -> None:
    global _gallery_builder
    _gallery_builder = builder


def register_model_locator(locator: ModelLocator) -> None:
    """`locator()` returns the active classifier's path (None: the committed model) and its label."""
    global _model_locator
    _model_locator = locator


def active_model() -> tuple[Path | None, str]:
    """(path, label) of the active classifier; (None, "v1") is the committed model."""
    return _model_locator() if _model_locator is not None else (None, "v1")


def bump(key: str) -> int:
    """Announce a change to every process; returns the new version (0: not announced yet, the
    cache is unreachable; the next successful version check announces it)."""
    try:
        return _incr(key)
    except broker_errors() as exc:
        logger.warning("cache unreachable: the change of %s is announced when it is back (%s)", key, exc)
        with _state_lock:
            _unannounced.add(key)
            _synced.clear()  # this process reloads at its next check, whatever the cache says
        return 0


def _incr(key: str) -> int:
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)
        return 1


def current_versions() -> tuple[int, int] | None:
    """(gallery, model) versions from the shared cache; None while the cache is unreachable."""
    try:
        for key in list(_unannounced):
            _incr(key)
            _unannounced.discard(key)
        values = cache.get_many([GALLERY_VERSION_KEY, MODEL_VERSION_KEY])
    except broker_errors() as exc:
        logger.warning("cache unreachable: analysing with the last known model and gallery (%s)", exc)
        return None
    return int(values.get(GALLERY_VERSION_KEY, 0)), int(values.get(MODEL_VERSION_KEY, 0))


def recheck() -> None:
    """Compare versions before this process's next analysis (it has just changed something itself)."""
    with _state_lock:
        _last_check.clear()


def pipeline(mode: str | None = None) -> Pipeline:
    """The shared pipeline for `mode` (default: the upload mode), synced to the latest versions."""
    shared = get_pipeline(mode or settings.ENGINE_UPLOAD_MODE)
    sync(shared)
    return shared


def sync(target: Pipeline, *, force: bool = False) -> None:
    key = id(target)
    now = time.monotonic()
    with _state_lock:
        if not force and now - _last_check.get(key, 0.0) < CHECK_INTERVAL_S and key in _synced:
            return
        _last_check[key] = now
    # One thread reloads; others arriving meanwhile wait instead of loading the same files again.
    with _reload_lock:
        versions = current_versions()
        seen = _synced.get(key)
        if versions is None:
            if seen is not None:
                return  # keep what this process has
            versions = (-1, -1)  # never loaded: load now, and again once the cache answers
        gallery_version, model_version = versions
        if seen is None or seen[1] != model_version:
            _load_active_model(target)
        if seen is None or seen[0] != gallery_version:
            _load_gallery(target)
        with _state_lock:
            _synced[key] = (gallery_version, model_version)


def _load_active_model(target: Pipeline) -> None:
    # No active version in the registry means the committed model, also after one was active.
    path = active_model()[0] or PipelineConfig.preset(target.config.mode).classifier_path
    if path != target.config.classifier_path:
        logger.info("loading classifier %s", path)
        target.reload(path)


def _load_gallery(target: Pipeline) -> None:
    if _gallery_builder is not None:
        target.set_gallery(_gallery_builder(target))
