"""Cameras, detection logs with their faces, batch jobs, and the registry of known people."""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.utils import timezone

from detection.engine import types

#: What replaces a password (or a bare user token) in a stream URL shown to anyone.
MASK = "***"


def redact_url(url: str) -> str:
    """`url` with its credentials masked (`rtsp://user:***@host/…`): stream URLs are shown only this way."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # not a URL (a file path, a malformed port): nothing to mask
        return url
    if user is None and password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    userinfo = f"{user}:{MASK}" if password is not None else MASK
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


class MaskLabel(models.TextChoices):
    WITH_MASK = types.WITH_MASK, types.MASK_STATE_NAMES[types.WITH_MASK]
    WITHOUT_MASK = types.WITHOUT_MASK, types.MASK_STATE_NAMES[types.WITHOUT_MASK]


class Camera(models.Model):
    class Kind(models.TextChoices):
        BROWSER = "browser", "Browser camera"
        RTSP = "rtsp", "RTSP stream"
        MJPEG = "mjpeg", "HTTP MJPEG stream"
        FILE = "file", "Video file or URL"

    name = models.CharField(max_length=100, unique=True)
    location = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BROWSER)
    url = models.CharField(max_length=500, blank=True, help_text="Stream URL or file path (not for browser cameras).")
    enabled = models.BooleanField(default=True)
    max_fps = models.FloatField(default=5.0, help_text="Frames analysed per second at most.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("watch_camera", "Can watch a camera's live view (without its configuration)")]

    def __str__(self) -> str:
        return self.name


class LawfulBasis(models.TextChoices):
    """Why the platform may hold a person's biometric data (GDPR art. 9(2); BIPA asks for consent)."""

    CONSENT = "consent", "Explicit consent of the person"
    EMPLOYMENT = "employment", "Obligations of employment or social-protection law"
    PUBLIC_INTEREST = "public_interest", "Substantial public interest set out in law"
    VITAL_INTERESTS = "vital_interests", "Vital interests of the person"
    OTHER = "other", "Another basis (described in the note)"


class ConsentRecord(models.Model):
    """One declaration of the lawful basis and consent: who recorded it, when, and the evidence.

    A bulk import records one declaration and links every person it registers to it.
    """

    lawful_basis = models.CharField(max_length=32, choices=LawfulBasis.choices)
    note = models.TextField(blank=True, help_text="Where the signed form is kept, its reference, or other details.")
    document = models.FileField(upload_to="consent/", blank=True, help_text="A scan of the signed consent form.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_lawful_basis_display()} ({self.recorded_at:%Y-%m-%d})"


class Person(models.Model):
    display_name = models.CharField(max_length=150)
    employee_code = models.CharField(max_length=64, unique=True, null=True, blank=True)
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    consent = models.ForeignKey(
        ConsentRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
        help_text="The lawful basis and consent on record; none: not recognised while consent is required.",
    )
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    erasure_due_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When consent was withdrawn: erased automatically then."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        permissions = [("manage_registry", "Can register people and their face photos")]

    def __str__(self) -> str:
        return self.display_name


class FaceSample(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        WEBCAM = "webcam", "Webcam capture"
        SNAPSHOT = "snapshot", "Snapshot from a detection"
        IMPORT = "import", "Bulk import"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="samples")
    image = models.ImageField(upload_to="faces/photos/", blank=True)
    crop = models.ImageField(upload_to="faces/crops/", blank=True)
    embedding = models.BinaryField(help_text="float32 vector, little-endian.")
    embedding_model = models.CharField(max_length=32)
    quality = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    synthetic_mask = models.BooleanField(default=False)
    variant_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="variants")
    #: The bulk import and the file within it this photo came from: an import that runs again
    #: (its worker died, its message came twice) skips the files it already enrolled.
    face_import = models.ForeignKey(
        "FaceImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
    )
    import_file = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person_id", "id"]


class JobStatus(models.TextChoices):
    """The states of every background job: batches, face imports and training jobs."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with failures"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class CountedJob(models.Model):
    """A background job over a known number of items, so pages can show its progress."""

    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def progress(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 0.0


class FaceImport(CountedJob):
    """A bulk import of face photos laid out person/photo.jpg, from a ZIP upload or a server folder."""

    Status = JobStatus

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="face_imports")
    archive = models.FileField(upload_to="imports/", blank=True)
    folder = models.CharField(max_length=500, blank=True)
    source_name = models.CharField(max_length=255)
    allow_largest = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    report = models.JSONField(default=list, blank=True, help_text="One {file, person, status, reason, code} per file.")
    #: Written by the worker running the import; a stale one means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    consent = models.ForeignKey(
        ConsentRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The one declaration applied to every person the import registers.",
    )
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        help_text="The import whose photos of several faces this one enrols again (largest face).",
    )

    @property
    def outcome(self) -> str:
        """The status as a user reads it: "Succeeded: accepted 5, rejected 5"."""
        return f"{self.get_status_display()}: accepted {self.done}, rejected {self.failed}"


class BatchJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> BatchJobQuerySet:
        """The batches `user` may see: every batch for Admins, their own for everyone else (the one
        rule of the batch pages, the API and the dashboard's jobs panel)."""
        return self if user.has_perm("accounts.admin_area") else self.filter(owner=user)


class BatchJob(CountedJob):
    Status = JobStatus

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    mode = models.CharField(max_length=16, default="accurate")
    recognize = models.BooleanField(default=True)
    cancel_requested = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)

    objects = BatchJobQuerySet.as_manager()


class BatchItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    batch = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=500)
    upload = models.FileField(upload_to="batches/", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: When its chunk was sent to the queue (empty: not sent, the broker was down) and when a worker
    #: started on it: the recovery sweep tells waiting items from lost ones with these.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    log = models.OneToOneField("DetectionLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["batch_id", "id"]


class DetectionLog(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        BATCH = "batch", "Batch"
        LIVE = "live", "Live"
        API = "api", "API"
        CAMERA = "camera", "Camera"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices, db_index=True)
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    batch = models.ForeignKey(BatchJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    original_name = models.CharField(max_length=255, blank=True)
    image = models.ImageField(upload_to="detections/%Y/%m/%d/", blank=True)
    image_width = models.PositiveIntegerField(default=0)
    image_height = models.PositiveIntegerField(default=0)
    model_version = models.CharField(max_length=32, blank=True)
    mode = models.CharField(max_length=16, blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    face_count = models.PositiveIntegerField(default=0)
    masked_count = models.PositiveIntegerField(default=0)
    unmasked_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0)
    summary = models.CharField(max_length=300, blank=True)
    #: Set on a log prepared but not yet written (detection.services.analysis.prepare_log): the engine's
    #: result and the unsaved faces, which write_logs inserts and the dashboard message reads.
    analysis: Any
    detected_faces: list[DetectedFace]

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["source", "created_at"])]


class DetectedFace(models.Model):
    class Review(models.TextChoices):
        PENDING = "pending", "Not reviewed"
        CONFIRMED = "confirmed", "Confirmed"
        CORRECTED = "corrected", "Corrected"

    class Fallback(models.TextChoices):
        """How the engine answered a close-up in which it detected no face (`FaceResult.fallback`)."""

        DETECTED = "", "Detected normally"
        PADDED = types.FALLBACK_PADDED, types.FALLBACK_NAMES[types.FALLBACK_PADDED]
        WHOLE_IMAGE = types.FALLBACK_WHOLE_IMAGE, types.FALLBACK_NAMES[types.FALLBACK_WHOLE_IMAGE]

    log = models.ForeignKey(DetectionLog, on_delete=models.CASCADE, related_name="faces")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    score = models.FloatField()
    mask_label = models.CharField(max_length=16, choices=MaskLabel.choices, db_index=True)
    mask_probability = models.FloatField()
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="detections")
    distance = models.FloatField(null=True, blank=True)
    crop = models.ImageField(upload_to="detections/faces/%Y/%m/%d/", blank=True)
    review_state = models.CharField(max_length=16, choices=Review.choices, default=Review.PENDING, db_index=True)
    corrected_mask_label = models.CharField(max_length=16, choices=MaskLabel.choices, blank=True)
    corrected_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="corrected_detections"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    #: Kept so reviewers and API clients can tell a whole photo classified as one face from a detected face.
    fallback = models.CharField(max_length=16, choices=Fallback.choices, default=Fallback.DETECTED, blank=True)

    class Meta:
        ordering = ["log_id", "id"]

    @property
    def box(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    @property
    def engine_fallback(self) -> str | None:
        """The close-up fallback as the engine's JSON has it: None for a face detected normally (stored blank)."""
        return self.fallback or None

    @property
    def effective_mask_label(self) -> str:
        return self.corrected_mask_label or self.mask_label

    @property
    def _identity_field(self) -> str:
        """Whose word names the face: the prediction until someone reviews it, then the reviewer's
        (`detection.filters.effective_person` is the same rule in SQL)."""
        return "person" if self.review_state == self.Review.PENDING else "corrected_person"

    @property
    def effective_person(self) -> Person | None:
        """Who the face is after review."""
        return getattr(self, self._identity_field)

    @property
    def effective_person_id(self) -> int | None:
        """The effective person's id, without loading the person."""
        return getattr(self, f"{self._identity_field}_id")


class AlertWebhook(models.Model):
    class Event(models.TextChoices):
        """What an alert was about (its `level`: warning for a registered person, danger for a stranger)."""

        UNMASKED_KNOWN = "warning", "A registered person without a mask"
        UNMASKED_UNKNOWN = "danger", "An unknown person without a mask"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Signs each payload (HMAC-SHA256).")
    enabled = models.BooleanField(default=True)
    events = models.JSONField(default=list, blank=True, help_text="Alert levels sent; empty: every alert.")
    cameras = models.ManyToManyField(
        Camera, blank=True, related_name="webhooks", help_text="Only alerts from these cameras; none: every camera."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"webhook {self.name}"

    def wants(self, level: str, camera_id: int | None, camera_ids: set[int]) -> bool:
        """Whether an alert of `level` from `camera_id` is in this webhook's scope (`camera_ids`: its cameras)."""
        return (not self.events or level in self.events) and (not camera_ids or camera_id in camera_ids)


class PrivacyMode(models.TextChoices):
    """What a source keeps of each analysed image (on top of `store_images`)."""

    WHOLE = "whole", "Whole image"
    BLUR = "blur", "Blur every face that is not a recognised registered person"
    PIXELATE = "pixelate", "Pixelate every face that is not a recognised registered person"
    VIOLATIONS = "violations", "Only face crops of people without a mask"
    NOTHING = "nothing", "Nothing"


class SingletonSettings(models.Model):
    """Settings edited from the app: one row, read with `current()` (created on first use)."""

    class Meta:
        abstract = True

    @classmethod
    def current(cls) -> Self:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class PlatformSettings(SingletonSettings):
    """Settings an Admin changes from the app; a single row (see `current()`)."""

    class StoreImages(models.TextChoices):
        ORIGINAL = "original", "Original"
        DOWNSCALED = "downscaled", "Downscaled copy"
        NONE = "none", "Do not store"

    recognition_threshold = models.FloatField(null=True, blank=True, help_text="Blank: the engine's tuned default.")
    store_images = models.CharField(max_length=16, choices=StoreImages.choices, default=StoreImages.DOWNSCALED)
    image_retention_days = models.PositiveIntegerField(default=30, help_text="0 keeps images forever.")
    privacy_uploads = models.CharField(
        "Privacy mode: uploads and API", max_length=16, choices=PrivacyMode.choices, default=PrivacyMode.WHOLE
    )
    privacy_batches = models.CharField(
        "Privacy mode: batches", max_length=16, choices=PrivacyMode.choices, default=PrivacyMode.WHOLE
    )
    privacy_cameras = models.CharField(
        "Privacy mode: cameras", max_length=16, choices=PrivacyMode.choices, default=PrivacyMode.WHOLE
    )
    require_consent = models.BooleanField(
        "Require a lawful basis before recognition",
        default=True,
        help_text="People without a recorded lawful basis and consent are never recognised.",
    )
    erasure_grace_days = models.PositiveIntegerField(
        "Erasure after withdrawal (days)",
        default=30,
        help_text="Days between a withdrawal of consent and the automatic erasure of the person (0: the next run).",
    )
    audit_retention_days = models.PositiveIntegerField(
        "Audit trail retention (days)",
        default=2190,
        help_text="Audit events older than this are removed (0 keeps them forever); at least the image retention.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "platform settings"
        verbose_name_plural = "platform settings"  # not Django's default "settingss"
