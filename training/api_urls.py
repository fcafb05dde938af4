"""REST API v1 routes of the training app."""

from rest_framework.routers import DefaultRouter

from training import api

router = DefaultRouter()
router.include_root_view = False  # detection's router serves /api/v1/
router.register("models", api.ModelVersionViewSet, basename="modelversion")
router.register("training-jobs", api.TrainingJobViewSet, basename="trainingjob")

urlpatterns: list = router.urls
