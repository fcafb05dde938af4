"""REST API of the face registry, shaped like CompreFace's subjects and examples.

`/people/` are the subjects, `/people/{id}/faces/` their example photos, `/recognize/` names the
faces of a photo. Everyone signed in reads (Staff can see identities); only the Admin role writes.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminOrReadOnly
from detection.models import FaceSample, Person
from detection.services import registry
from detection.services.enrolment import EnrolmentRejected, decode
from detection.services.gallery import recognise


class PersonSerializer(serializers.ModelSerializer):
    consent = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="Record the person's consent now, by you."
    )
    sample_count = serializers.IntegerField(read_only=True, help_text="Photos enrolled (masked variants not counted).")

    class Meta:
        model = Person
        fields = [
            "id", "display_name", "employee_code", "notes", "active", "consent", "consent_at", "sample_count",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["consent_at", "created_at", "updated_at"]


class FaceSampleSerializer(serializers.ModelSerializer):
    image_id = serializers.IntegerField(source="id", read_only=True)
    subject = serializers.CharField(source="person.display_name", read_only=True)
    person_id = serializers.IntegerField(read_only=True)
    masked_variants = serializers.SerializerMethodField()

    class Meta:
        model = FaceSample
        fields = ["image_id", "subject", "person_id", "source", "quality", "masked_variants", "created_at"]

    def get_masked_variants(self, sample: FaceSample) -> int:
        return sample.variants.count()


class FaceUploadSerializer(serializers.Serializer):
    file = serializers.ImageField(help_text="A photo of the person (JPEG, PNG, WebP, BMP or GIF).")
    allow_largest = serializers.BooleanField(
        required=False, default=False, help_text="Enrol the largest face when the photo shows several."
    )


class RecognizeRequestSerializer(serializers.Serializer):
    file = serializers.ImageField(help_text="The photo to search for registered people.")


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
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise EnrolmentRejected("too_large", f"The file is larger than {settings.MAX_UPLOAD_BYTES // 2**20} MB.")
    return upload.read()


def _rejected(exc: EnrolmentRejected) -> Response:
    return Response({"code": exc.code, "detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)


class PersonViewSet(viewsets.ModelViewSet):
    """Registered people (subjects). Deleting one erases their photos, crops and embeddings."""

    serializer_class = PersonSerializer
    permission_classes = [IsAdminOrReadOnly]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return Person.objects.annotate(sample_count=Count("samples", filter=Q(samples__synthetic_mask=False))).order_by(
            "display_name", "pk"
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = registry.create_person(
            display_name=data["display_name"],
            employee_code=data.get("employee_code"),
            notes=data.get("notes", ""),
            consent=data.get("consent", False),
            user=self.request.user,
        )
        serializer.instance.sample_count = 0

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        active = data.pop("active", serializer.instance.active)
        if data.pop("consent", False) and serializer.instance.consent_at is None:
            registry.record_consent(serializer.instance, user=self.request.user)
        serializer.save(**data)
        registry.set_active(serializer.instance, active, user=self.request.user)

    def perform_destroy(self, instance):
        registry.delete_person(instance, user=self.request.user)

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
            person, [(file.name, data, FaceSample.Source.UPLOAD)],
            allow_largest=upload.validated_data["allow_largest"], user=request.user,
        )  # fmt: skip
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


class CanSeeIdentities(BasePermission):
    message = "Seeing identities needs the Staff or Admin role."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("detection.view_person"))


class RecognizeView(APIView):
    """Find registered people in a photo: every face with its identity (null: unknown)."""

    permission_classes = [CanSeeIdentities]
    parser_classes = [MultiPartParser, FormParser]

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
