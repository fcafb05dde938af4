"""The REST API, version 1: one router for every app's viewsets, plus the views that are not
resources. Mounted at /api/v1/; the version is also explicit in the settings (AcceptHeaderVersioning:
a client may ask for `Accept: application/json; version=1`, and any other version is refused)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from detection.api import analysis, cameras, registry
from training import api as training_api

router = DefaultRouter()
router.include_format_suffixes = False  # JSON only (`?format=` still works); `.json` twins crashed extra actions
router.register("detections", analysis.DetectionLogViewSet, basename="detectionlog")
router.register("batches", analysis.BatchJobViewSet, basename="batchjob")
router.register("people", registry.PersonViewSet, basename="person")
router.register("cameras", cameras.CameraViewSet, basename="camera")
router.register("models", training_api.ModelVersionViewSet, basename="modelversion")
router.register("training-jobs", training_api.TrainingJobViewSet, basename="trainingjob")

urlpatterns = [
    path("analyze/", analysis.AnalyzeView.as_view(), name="api-analyze"),
    path("stats/", analysis.StatsView.as_view(), name="api-stats"),
    path("recognize/", registry.RecognizeView.as_view(), name="api-recognize"),
    *router.urls,
]
