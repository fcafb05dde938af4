"""Fixtures shared by the detection tests (defined in their own modules, registered here)."""

import pytest

from tests.detection.analysis_fixtures import classifier, face_jpeg, masked_jpeg, real_classifier  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_settings_cache():
    """Settings the analysis service reuses for a second must not leak from a rolled-back test."""
    from detection.services.analysis import forget_recent

    forget_recent()
    yield
    forget_recent()
