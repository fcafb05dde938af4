"""REST API v1 routes of the detection app; each feature keeps its own section."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from detection.api import analysis, registry  # issues 5, 6
from detection.api import cameras as camera_api  # issue 7

router = DefaultRouter()
# --- analysis, detections, batches, stats (issue 5) ---
router.register("detections", analysis.DetectionLogViewSet, basename="detectionlog")
router.register("batches", analysis.BatchJobViewSet, basename="batchjob")
analysis_urls = [
    path("analyze/", analysis.AnalyzeView.as_view(), name="api-analyze"),
    path("stats/", analysis.StatsView.as_view(), name="api-stats"),
]
# --- people, faces, recognize (issue 6) ---
router.register("people", registry.PersonViewSet, basename="person")
registry_urls = [path("recognize/", registry.RecognizeView.as_view(), name="api-recognize")]
# --- cameras (issue 7) ---
router.register("cameras", camera_api.CameraViewSet, basename="camera")

urlpatterns: list = [*analysis_urls, *registry_urls, *router.urls]
