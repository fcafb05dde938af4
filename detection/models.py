"""Cameras, detection logs with their faces, batch jobs, and the registry of known people."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MaskLabel(models.TextChoices):
    WITH_MASK = "with_mask", "With mask"
    WITHOUT_MASK = "without_mask", "Without mask"


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

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    display_name = models.CharField(max_length=150)
    employee_code = models.CharField(max_length=64, unique=True, null=True, blank=True)
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
    variant_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="variants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person_id", "id"]


class JobStatus(models.TextChoices):
    """The states of every background job: batches, face imports and training jobs."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
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
    report = models.JSONField(default=list, blank=True, help_text="One {file, person, status, reason} per file.")


class BatchJob(CountedJob):
    Status = JobStatus

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    mode = models.CharField(max_length=16, default="accurate")
    recognize = models.BooleanField(default=True)
    cancel_requested = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)


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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["source", "created_at"])]


class DetectedFace(models.Model):
    class Review(models.TextChoices):
        PENDING = "pending", "Not reviewed"
        CONFIRMED = "confirmed", "Confirmed"
        CORRECTED = "corrected", "Corrected"

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

    class Meta:
        ordering = ["log_id", "id"]

    @property
    def box(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    @property
    def effective_mask_label(self) -> str:
        return self.corrected_mask_label or self.mask_label

    @property
    def effective_person(self) -> Person | None:
        """Who the face is after review (the prediction until someone reviews it)."""
        return self.person if self.review_state == self.Review.PENDING else self.corrected_person


class AlertWebhook(models.Model):
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Signs each payload (HMAC-SHA256).")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"webhook {self.name}"


class PlatformSettings(models.Model):
    """Settings an Admin changes from the app; a single row (see `current()`)."""

    class StoreImages(models.TextChoices):
        ORIGINAL = "original", "Original"
        DOWNSCALED = "downscaled", "Downscaled copy"
        NONE = "none", "Do not store"

    recognition_threshold = models.FloatField(null=True, blank=True, help_text="Blank: the engine's tuned default.")
    store_images = models.CharField(max_length=16, choices=StoreImages.choices, default=StoreImages.DOWNSCALED)
    image_retention_days = models.PositiveIntegerField(default=30, help_text="0 keeps images forever.")
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def current(cls) -> PlatformSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
