"""The training pool, training jobs and the registry of classifier versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from detection.models import JobStatus, MaskLabel, SingletonSettings


class TrainingImage(models.Model):
    Label = MaskLabel

    class Source(models.TextChoices):
        DATASET = "dataset", "Imported dataset"
        CORRECTION = "correction", "Staff correction"
        UPLOAD = "upload", "Admin upload"

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        EVAL = "eval", "Evaluation"

    image = models.ImageField(upload_to="training/images/")
    label = models.CharField(max_length=16, choices=Label.choices, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    split = models.CharField(max_length=8, choices=Split.choices, db_index=True)
    content_hash = models.CharField(max_length=64, unique=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    detected_face = models.ForeignKey(
        "detection.DetectedFace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        RETIRED = "retired", "Retired"

    number = models.PositiveIntegerField(unique=True)
    artifact = models.CharField(max_length=500, help_text="Path of the .tflite file.")
    model_card = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    input_size = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    job = models.ForeignKey("TrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    gate_report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        permissions = [("manage_models", "Can train, activate and retire classifier versions")]

    def __str__(self) -> str:
        return f"v{self.number}"


class TrainingJob(models.Model):
    Status = JobStatus

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=16, default="manual")
    epochs = models.PositiveIntegerField(default=5)
    input_size = models.PositiveIntegerField(default=0, help_text="0: the active model's size.")
    parent_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    starting_weights = models.CharField(
        max_length=100, blank=True, help_text="What the job fine-tunes from, as its log says (set when it starts)."
    )
    progress = models.FloatField(default=0.0)
    history = models.JSONField(default=list, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    options = models.JSONField(
        default=dict, blank=True, help_text="Extra keyword arguments for the training code (head_epochs, imagenet...)."
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Celery node running the job.")
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class TrainingSettings(SingletonSettings):
    """Training settings an Admin changes from the app; a single row (see `current()`).

    The retraining schedule itself is a django-celery-beat PeriodicTask (its kwargs hold the
    new-image threshold), so Django admin and the settings page edit the same row.
    """

    gate_margin = models.FloatField(
        default=0.0,
        help_text="Accuracy points a candidate may fall below the active model and still be activated "
        "(0: at least as good; negative: must beat it by that much).",
    )
    default_epochs = models.PositiveIntegerField(default=5, help_text="Fine-tuning epochs of scheduled jobs.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "training settings"
        verbose_name_plural = "training settings"

    def __str__(self) -> str:
        return "Training settings"
