"""Fixtures shared by the detection tests (defined in their own modules, registered here)."""

from tests.detection.analysis_fixtures import classifier, face_jpeg, masked_jpeg, real_classifier  # noqa: F401
