"""REST API of the face registry, shaped like CompreFace's subjects and examples.

`/people/` are the subjects, `/people/{id}/faces/` their example photos, `/recognize/` names the
faces of a photo. The registry is the Admin role's (model permissions on Person and FaceSample);
recognising a photo needs what analysing one needs, since it shows the same names.
`/people/{id}/consent/`, `/withdraw/` and `/export/` record consent, its withdrawal and make the
subject access export; deleting a person erases them (services.subjects).
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from detection.models import FaceSample, Person
from detection.serializers import (
    DeclarationSerializer,
    FaceSampleSerializer,
    FaceUploadSerializer,
    PersonSerializer,
    RecognizeRequestSerializer,
)
from detection.services import consent as consent_service
from detection.services import registry, subjects
from detection.services.consent import ConsentError, Declaration
from detection.services.enrolment import EnrolmentRejected, decode
from detection.services.gallery import recognise
from detection.services.uploads import UploadError, read_upload

RejectionSerializer = inline_serializer(
    "EnrolmentRejection", {"code": serializers.CharField(), "detail": serializers.CharField()}
)

RecognizeResponse = inline_serializer(
    "RecognizeResult",
    {
        "result": inline_serializer(
            "RecognizedFace",
            {
                "box": inline_serializer(
                    "FaceBox",
                    {
                        "probability": serializers.FloatField(),
                        "x_min": serializers.IntegerField(),
                        "y_min": serializers.IntegerField(),
                        "x_max": serializers.IntegerField(),
                        "y_max": serializers.IntegerField(),
                    },
                ),
                "subjects": inline_serializer(
                    "FaceSubject",
                    {
                        "subject": serializers.CharField(),
                        "person_id": serializers.IntegerField(),
                        "similarity": serializers.FloatField(),
                        "distance": serializers.FloatField(),
                    },
                    many=True,
                ),
                "identity": serializers.IntegerField(allow_null=True, help_text="Person id; null: unknown."),
                "distance": serializers.FloatField(allow_null=True),
            },
            many=True,
        )
    },
)


def _read_upload(upload) -> bytes:
    """The bytes of an uploaded photo through the one shared size check, refused like any rejection."""
    try:
        return read_upload(upload)
    except UploadError as exc:
        raise EnrolmentRejected("too_large" if "too large" in str(exc) else "empty", str(exc)) from exc


def _rejected(exc: EnrolmentRejected) -> Response:
    return Response({"code": exc.code, "detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)


class PersonViewSet(viewsets.ModelViewSet):
    """Registered people (subjects). Deleting one erases their photos, crops and embeddings."""

    serializer_class = PersonSerializer
    required_permissions = {
        "faces": {"GET": ["detection.view_facesample"], "POST": ["detection.add_facesample"]},
        "delete_face": ["detection.delete_facesample"],
        # consent, its withdrawal and the subject access export: what the registry pages need
        "consent": ["detection.manage_registry"],
        "withdraw": ["detection.manage_registry"],
        "export": ["detection.manage_registry"],
    }
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            Person.objects.select_related("consent__recorded_by")
            .annotate(sample_count=Count("samples", filter=Q(samples__synthetic_mask=False)))
            .order_by("display_name", "pk")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        basis = data.get("lawful_basis")
        serializer.instance = registry.create_person(
            display_name=data["display_name"],
            employee_code=data.get("employee_code"),
            notes=data.get("notes", ""),
            consent=Declaration(basis, data.get("consent_note", "")) if basis else None,
            user=self.request.user,
            source="api",
        )
        serializer.instance.sample_count = 0

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        active = data.pop("active", serializer.instance.active)
        data.pop("consent_note", None)
        registry.update_person(serializer.instance, user=self.request.user, **data)
        try:
            registry.set_active(serializer.instance, active, user=self.request.user)
        except ConsentError as exc:
            raise serializers.ValidationError({"active": [str(exc)]}) from exc

    def perform_destroy(self, instance):
        subjects.erase_person(instance, user=self.request.user)

    @extend_schema(
        summary="Record the person's lawful basis and consent (multipart to attach the signed form)",
        request={"multipart/form-data": DeclarationSerializer, "application/json": DeclarationSerializer},
        responses={200: PersonSerializer},
    )
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        person = self.get_object()
        form = DeclarationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            consent_service.record_consent(person, form.declaration(), user=request.user)
        except ConsentError as exc:
            raise serializers.ValidationError({"consent_document": [str(exc)]}) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=person.pk)).data)

    @extend_schema(
        summary="The person withdrew consent: deactivate them and schedule their erasure",
        request=inline_serializer("Withdrawal", {"note": serializers.CharField(required=False)}),
        responses={200: PersonSerializer},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        person = self.get_object()
        try:
            consent_service.withdraw_consent(person, user=request.user, note=str(request.data.get("note", ""))[:1000])
        except ConsentError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_queryset().get(pk=person.pk)).data)

    @extend_schema(
        summary="Subject access export: everything held about the person, as a ZIP",
        responses={(200, "application/zip"): OpenApiResponse(description="The ZIP archive with manifest.json")},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        person = self.get_object()
        archive = subjects.export_subject(person, user=request.user)
        return FileResponse(
            archive, as_attachment=True, filename=subjects.export_filename(person), content_type="application/zip"
        )

    @extend_schema(
        methods=["GET"], summary="List a person's face photos (examples)", responses=FaceSampleSerializer(many=True)
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a face photo (multipart) after the quality gate",
        request={"multipart/form-data": FaceUploadSerializer},
        responses={201: FaceSampleSerializer, 400: OpenApiResponse(RejectionSerializer, "Rejected, with the reason")},
    )
    @action(detail=True, methods=["get", "post"], url_path="faces", parser_classes=[MultiPartParser, FormParser])
    def faces(self, request, pk=None):
        person = self.get_object()
        if request.method == "GET":
            samples = person.samples.filter(synthetic_mask=False).select_related("person")
            return Response(FaceSampleSerializer(samples, many=True).data)
        upload = FaceUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            data = _read_upload(file)
        except EnrolmentRejected as exc:
            return _rejected(exc)
        [result] = registry.add_photos(
            person,
            [(file.name, data, FaceSample.Source.UPLOAD)],
            allow_largest=upload.validated_data["allow_largest"],
            user=request.user,
        )
        if not result.accepted:
            return Response({"code": result.code, "detail": result.reason}, status=status.HTTP_400_BAD_REQUEST)
        return Response(FaceSampleSerializer(result.sample).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Delete a face photo with its masked variants", responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"faces/(?P<face_id>\d+)")
    def delete_face(self, request, pk=None, face_id=None):
        person = self.get_object()
        sample = get_object_or_404(FaceSample, pk=face_id, person=person, synthetic_mask=False)
        registry.delete_sample(sample, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecognizeView(APIView):
    """Find registered people in a photo: every face with its identity (null: unknown)."""

    required_permissions = {"POST": ["detection.add_detectionlog"]}
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "analysis"

    @extend_schema(
        summary="Recognise the faces in a photo",
        request={"multipart/form-data": RecognizeRequestSerializer},
        responses={200: RecognizeResponse, 400: OpenApiResponse(RejectionSerializer, "Not an image")},
    )
    def post(self, request):
        form = RecognizeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            image = decode(_read_upload(form.validated_data["file"]))
        except EnrolmentRejected as exc:
            return _rejected(exc)
        result = []
        for face in recognise(image):
            x1, y1, x2, y2 = (int(round(v)) for v in face.box)
            subjects = []
            if face.person is not None:
                subjects.append(
                    {
                        "subject": face.person.display_name,
                        "person_id": face.person.pk,
                        "similarity": round(1.0 - face.distance, 4),
                        "distance": face.distance,
                    }
                )
            result.append(
                {
                    "box": {"probability": round(face.score, 4), "x_min": x1, "y_min": y1, "x_max": x2, "y_max": y2},
                    "subjects": subjects,
                    "identity": face.person.pk if face.person else None,
                    "distance": face.distance,
                }
            )
        return Response({"result": result})
