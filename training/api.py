"""REST API v1 of the training app: model versions (activate, retire) and training jobs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from training.models import ModelVersion, TrainingJob
from training.serializers import ModelVersionSerializer, TrainingJobSerializer
from training.services import jobs, registry

MANAGE = "training.manage_models"


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    required_permissions = {"activate": [MANAGE], "retire": [MANAGE]}

    def _act(self, request, method):
        try:
            version = method(self.get_object(), user=request.user)
        except registry.RegistryError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(version).data)

    @extend_schema(request=None, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Make this version active (promotion override or rollback); every process reloads it."""
        return self._act(request, registry.activate)

    @extend_schema(request=None, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        return self._act(request, registry.retire)


class TrainingJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = TrainingJob.objects.select_related("created_by")
    serializer_class = TrainingJobSerializer
    required_permissions = {"create": [MANAGE], "cancel": [MANAGE]}

    def get_queryset(self):
        jobs.reap_stale_jobs()
        return super().get_queryset()

    @extend_schema(request=None, responses=TrainingJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            job = jobs.cancel_job(self.get_object(), request.user)
        except jobs.JobError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(job).data)
