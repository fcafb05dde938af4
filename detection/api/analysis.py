"""REST API of photo analysis: analyse one image, the detection log, batches and dashboard figures."""

from __future__ import annotations

import logging

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from detection.engine.imageio import ImageDecodeError
from detection.filters import LogFilterSet
from detection.models import BatchJob, DetectionLog
from detection.serializers import (
    AnalysisSerializer,
    AnalyzeRequestSerializer,
    BatchCreateSerializer,
    BatchJobDetailSerializer,
    BatchJobSerializer,
    DetectionLogSerializer,
)
from detection.services import batches, stats
from detection.services.analysis import analyse_and_log
from detection.services.uploads import UploadError, expand_uploads, read_upload

logger = logging.getLogger(__name__)


def analysis_payload(log: DetectionLog) -> dict:
    out = {"log_id": log.pk, **log.analysis.to_dict(), "stored": bool(log.image)}
    for face, row in zip(out["faces"], log.detected_faces, strict=True):
        face["person"] = row.person.display_name if row.person else None
        face["face_id"] = row.pk
    return out


class AnalyzeView(APIView):
    """Analyse one image (multipart field `image`) and record it in the detection log."""

    required_permissions = {"POST": ["detection.add_detectionlog"]}
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "analysis"

    @extend_schema(request={"multipart/form-data": AnalyzeRequestSerializer}, responses={201: AnalysisSerializer})
    def post(self, request):
        params = AnalyzeRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data["image"]
        try:
            data = read_upload(upload)
            log = analyse_and_log(
                data,
                user=request.user,
                source=DetectionLog.Source.API,
                original_name=upload.name,
                store=None if params.validated_data["store"] else False,
                mode=params.validated_data.get("mode"),
                recognize=params.validated_data["recognize"],
            )
        except (UploadError, ImageDecodeError) as exc:
            logger.info("api analyze refused %s: %s", upload.name, exc)
            return Response({"image": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(analysis_payload(log), status=status.HTTP_201_CREATED)


class DetectionLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The detection log with the list page's filters (date_from/date_to as YYYY-MM-DD; mask, person,
    unknown and reviewed select faces: a log is listed when one of its faces meets them all)."""

    serializer_class = DetectionLogSerializer
    queryset = DetectionLog.objects.select_related("camera", "user", "batch").prefetch_related("faces__person")
    filter_backends = [DjangoFilterBackend]
    filterset_class = LogFilterSet


class BatchJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Batches: create from files (multipart `files`, repeated), follow their status, cancel, retry."""

    required_permissions = {
        "progress": ["detection.view_batchjob"],
        "cancel": ["detection.change_batchjob"],
        "retry": ["detection.change_batchjob"],
    }
    parser_classes = [MultiPartParser, FormParser]
    queryset = BatchJob.objects.none()

    @property
    def throttle_scope(self) -> str:
        """Creating a batch runs the engine on every file (the analysis rate); following one does not."""
        return "analysis" if self.action == "create" else ""

    def get_queryset(self):
        return BatchJob.objects.select_related("owner").visible_to(self.request.user)

    def get_serializer_class(self):
        return BatchJobDetailSerializer if self.action == "retrieve" else BatchJobSerializer

    @extend_schema(request={"multipart/form-data": BatchCreateSerializer}, responses={201: BatchJobDetailSerializer})
    def create(self, request, *args, **kwargs):
        params = BatchCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        batch = batches.create_batch(
            request.user,
            expand_uploads(params.validated_data["files"]),
            mode=params.validated_data.get("mode"),
            recognize=params.validated_data["recognize"],
        )
        return Response(BatchJobDetailSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: BatchJobSerializer})
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """The counts and status only (what a progress bar polls), without the items."""
        return Response(BatchJobSerializer(self.get_object()).data)

    @extend_schema(request=None, responses={200: BatchJobSerializer, 409: BatchJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        batch = self.get_object()
        changed = batches.cancel_batch(batch)
        return Response(BatchJobSerializer(batch).data, status=200 if changed else 409)

    @extend_schema(request=None, responses={200: BatchJobSerializer, 409: BatchJobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        batch = self.get_object()
        count = batches.retry_batch(batch)
        return Response(BatchJobSerializer(batch).data, status=200 if count else 409)


# --- dashboard figures -----------------------------------------------------------------------
class StatsView(APIView):
    """Every dashboard figure: today's compliance, trends by hour and day, breakdowns, recent events."""

    required_permissions = {"GET": ["detection.view_detectionlog"]}

    @extend_schema(
        responses=inline_serializer(
            "DashboardStats",
            {
                "generated_at": serializers.DateTimeField(),
                "today": serializers.DictField(),
                "by_hour": serializers.ListField(child=serializers.DictField()),
                "by_day": serializers.ListField(child=serializers.DictField()),
                "by_source": serializers.ListField(child=serializers.DictField()),
                "by_camera": serializers.ListField(child=serializers.DictField()),
                "recent_violations": serializers.ListField(child=serializers.DictField()),
                "unknown_faces": serializers.ListField(child=serializers.DictField()),
                "running_jobs": serializers.ListField(child=serializers.DictField()),
                "recent_jobs": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request):
        return Response(stats.dashboard(user=request.user))
