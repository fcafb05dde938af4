"""Which classifier file is active: the registry's answer, used by every process."""

from __future__ import annotations

from pathlib import Path

from detection.services.engine import MODEL_VERSION_KEY, bump
from training.models import ModelVersion


def active_model_path() -> Path | None:
    """The active version's artifact, or None to keep the engine's committed default."""
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("-activated_at").first()
    return Path(active.artifact) if active else None


def active_model_label() -> str:
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("-activated_at").first()
    return str(active) if active else "v1"


def model_changed() -> int:
    """Call after an activation or rollback: every process reloads its classifier."""
    return bump(MODEL_VERSION_KEY)
