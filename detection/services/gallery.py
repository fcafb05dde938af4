"""The registry as the engine sees it: a Gallery built from the database's stored embeddings."""

from __future__ import annotations

import numpy as np

from detection.engine.gallery import Gallery
from detection.engine.pipeline import Pipeline
from detection.models import FaceSample, PlatformSettings
from detection.services.engine import GALLERY_VERSION_KEY, bump


def build_gallery(target: Pipeline) -> Gallery:
    """Every active person's samples embedded by the pipeline's recognizer; names are person ids."""
    gallery = target.new_gallery(threshold=PlatformSettings.current().recognition_threshold)
    rows = FaceSample.objects.filter(person__active=True, embedding_model=gallery.recognizer).values_list(
        "person_id", "embedding"
    )
    rows = list(rows)
    if rows:
        gallery.add_many(
            [str(person_id) for person_id, _ in rows],
            np.stack([np.frombuffer(bytes(blob), dtype="<f4") for _, blob in rows]),
        )
    return gallery


def registry_changed() -> int:
    """Call after any change to people or samples: every process rebuilds its gallery."""
    return bump(GALLERY_VERSION_KEY)
