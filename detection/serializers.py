"""REST API serializers of the app: request bodies and resource representations, used by its viewsets."""

from __future__ import annotations

from rest_framework import serializers

from detection.engine.pipeline import MODES
from detection.models import (
    BatchItem,
    BatchJob,
    Camera,
    ConsentRecord,
    DetectedFace,
    DetectionLog,
    FaceSample,
    LawfulBasis,
    MaskLabel,
    Person,
    redact_url,
)
from detection.services import consent as consent_service
from detection.services.consent import ConsentError, Declaration
from detection.views.live import CameraForm


# --- analyse ------------------------------------------------------------------------------
class AnalyzeRequestSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="JPEG, PNG, WebP, BMP or GIF.")
    store = serializers.BooleanField(default=True, help_text="false: analyse without keeping the image.")
    mode = serializers.ChoiceField(choices=MODES, required=False, help_text="Default: the upload mode.")
    recognize = serializers.BooleanField(default=True)


class FallbackField(serializers.ChoiceField):
    """The engine's close-up fallback as its JSON has it: null for a face detected normally (stored blank)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            choices=[(value, label) for value, label in DetectedFace.Fallback.choices if value],
            allow_null=True,
            help_text="How a close-up with no detected face was answered: padded (found in the photo framed "
            "with a border) or whole_image (the whole photo classified as one face, its box the photo); null "
            "when the face was detected normally.",
            **kwargs,
        )

    def to_representation(self, value: str | None) -> str | None:
        return value or None


class FaceResultSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4)
    score = serializers.FloatField()
    mask = serializers.ChoiceField(choices=MaskLabel.values)
    mask_score = serializers.FloatField(help_text="P(with_mask).")
    identity = serializers.CharField(allow_null=True, help_text="Person id as a string, null when unknown.")
    distance = serializers.FloatField(allow_null=True)
    person = serializers.CharField(allow_null=True, help_text="The person's display name.")
    face_id = serializers.IntegerField()
    fallback = FallbackField()


class AnalysisSerializer(serializers.Serializer):
    """The engine's JSON schema (Analysis.to_dict) plus the log it was recorded as."""

    log_id = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    faces = FaceResultSerializer(many=True)
    timings_ms = serializers.DictField(child=serializers.FloatField())
    stored = serializers.BooleanField()


# --- detection log -------------------------------------------------------------------------
class DetectedFaceSerializer(serializers.ModelSerializer):
    box = serializers.ListField(child=serializers.FloatField(), read_only=True)
    person_name = serializers.CharField(source="person.display_name", default=None, read_only=True)
    effective_mask_label = serializers.CharField(read_only=True)
    fallback = FallbackField(read_only=True)

    class Meta:
        model = DetectedFace
        fields = [
            "id",
            "box",
            "score",
            "mask_label",
            "mask_probability",
            "person",
            "person_name",
            "distance",
            "fallback",
            "review_state",
            "corrected_mask_label",
            "corrected_person",
            "effective_mask_label",
            "reviewed_by",
            "reviewed_at",
        ]


class DetectionLogSerializer(serializers.ModelSerializer):
    faces = DetectedFaceSerializer(many=True, read_only=True)
    camera_name = serializers.CharField(source="camera.name", default=None, read_only=True)
    username = serializers.CharField(source="user.username", default=None, read_only=True)
    image_stored = serializers.SerializerMethodField()

    class Meta:
        model = DetectionLog
        fields = [
            "id",
            "created_at",
            "source",
            "camera",
            "camera_name",
            "batch",
            "user",
            "username",
            "original_name",
            "image_stored",
            "image_width",
            "image_height",
            "model_version",
            "mode",
            "timings_ms",
            "face_count",
            "masked_count",
            "unmasked_count",
            "unknown_count",
            "summary",
            "faces",
        ]

    def get_image_stored(self, obj) -> bool:
        return bool(obj.image)


# --- batches ------------------------------------------------------------------------------
class BatchItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchItem
        fields = ["id", "name", "status", "error", "attempts", "log"]


class BatchJobSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = BatchJob
        fields = [
            "id",
            "owner",
            "status",
            "mode",
            "recognize",
            "total",
            "done",
            "failed",
            "progress",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class BatchJobDetailSerializer(BatchJobSerializer):
    items = BatchItemSerializer(many=True, read_only=True)

    class Meta(BatchJobSerializer.Meta):
        fields = [*BatchJobSerializer.Meta.fields, "items"]
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(), allow_empty=False, help_text="Images and/or ZIP archives."
    )
    mode = serializers.ChoiceField(choices=MODES, required=False)
    recognize = serializers.BooleanField(default=True)


class ConsentRecordSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username", default=None, read_only=True)
    document = serializers.SerializerMethodField(help_text="Whether a consent document is stored.")

    class Meta:
        model = ConsentRecord
        fields = ["lawful_basis", "note", "document", "recorded_by", "recorded_at"]

    def get_document(self, record: ConsentRecord) -> bool:
        return bool(record.document)


class DeclarationSerializer(serializers.Serializer):
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices, help_text="Why the face may be held.")
    consent_note = serializers.CharField(required=False, allow_blank=True, default="")
    consent_document = serializers.FileField(required=False, help_text="The signed form: PDF, PNG or JPEG.")

    def declaration(self) -> Declaration:
        data = self.validated_data
        return Declaration(data["lawful_basis"], data.get("consent_note", ""), data.get("consent_document"))


class PersonSerializer(serializers.ModelSerializer):
    lawful_basis = serializers.ChoiceField(
        choices=LawfulBasis.choices,
        write_only=True,
        required=False,
        help_text="On creation: the lawful basis of registering the person, recorded by you (required while "
        "the platform requires consent). Later changes go through /consent/.",
    )
    consent_note = serializers.CharField(write_only=True, required=False, allow_blank=True, default="")
    consent = ConsentRecordSerializer(read_only=True)
    sample_count = serializers.IntegerField(read_only=True, help_text="Photos enrolled (masked variants not counted).")

    class Meta:
        model = Person
        fields = [
            "id",
            "display_name",
            "employee_code",
            "notes",
            "active",
            "lawful_basis",
            "consent_note",
            "consent",
            "consent_withdrawn_at",
            "erasure_due_at",
            "sample_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consent_withdrawn_at", "erasure_due_at", "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is None:
            basis = attrs.get("lawful_basis")
            declaration = Declaration(basis, attrs.get("consent_note", "")) if basis else None
            try:
                consent_service.check_declared(declaration)
            except ConsentError as exc:
                raise serializers.ValidationError({"lawful_basis": [str(exc)]}) from exc
        elif "lawful_basis" in attrs:
            raise serializers.ValidationError({"lawful_basis": ["Record a new lawful basis with POST .../consent/."]})
        return attrs


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


class CameraSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Stream URL or file path; write-only because it may hold credentials (see url_display).",
    )
    url_display = serializers.SerializerMethodField(help_text="The stream URL with any password masked.")

    class Meta:
        model = Camera
        fields = ["id", "name", "location", "kind", "url", "url_display", "enabled", "max_fps", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_url_display(self, camera: Camera) -> str:
        return redact_url(camera.url)

    def validate(self, attrs):
        """The page's form rules, so API and page accept the same cameras."""
        fields = CameraForm.Meta.fields
        if self.instance is not None:
            current = {f: getattr(self.instance, f) for f in fields}
        else:
            current = {f: Camera._meta.get_field(f).get_default() for f in fields}
        data = {k: v for k, v in {**current, **attrs}.items() if v is not False}  # form data: unchecked = absent
        form = CameraForm(data=data, instance=self.instance)
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: [str(e) for e in errors] for field, errors in form.errors.items()}
            )
        attrs.update({k: form.cleaned_data[k] for k in attrs})
        return attrs
