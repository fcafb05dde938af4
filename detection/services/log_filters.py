"""The detection-log filters: one form shared by the list page, its CSV export and the REST API."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from detection.models import Camera, DetectedFace, DetectionLog, MaskLabel, Person

MASK_CHOICES = [("", "Any"), *MaskLabel.choices, ("none", "No faces")]
REVIEW_CHOICES = [("", "Any"), ("reviewed", "Reviewed"), ("pending", "Not reviewed")]


class LogFilterForm(forms.Form):
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(required=False, choices=[("", "Any"), *DetectionLog.Source.choices])
    camera = forms.ModelChoiceField(required=False, queryset=Camera.objects.all(), empty_label="Any")
    mask = forms.ChoiceField(required=False, choices=MASK_CHOICES, label="Mask state")
    person = forms.ModelChoiceField(required=False, queryset=Person.objects.all(), empty_label="Anyone")
    unknown = forms.BooleanField(required=False, label="Unknown faces only")
    reviewed = forms.ChoiceField(required=False, choices=REVIEW_CHOICES, label="Review")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def effective_mask(label: str) -> Q:
    """Faces whose reviewed (or else predicted) mask label is `label`."""
    return Q(corrected_mask_label=label) | Q(corrected_mask_label="", mask_label=label)


def effective_person(person: Person | None) -> Q:
    """Faces identified (after review, when reviewed) as `person`; None: unknown faces."""
    pending = Q(review_state=DetectedFace.Review.PENDING)
    if person is None:
        return (pending & Q(person__isnull=True)) | (~pending & Q(corrected_person__isnull=True))
    return (pending & Q(person=person)) | (~pending & Q(corrected_person=person))


def filter_logs(params, queryset: QuerySet | None = None) -> tuple[QuerySet, LogFilterForm]:
    """Apply the filters in `params` (a QueryDict); invalid values are reported on the form and
    ignored, so a bad link still shows a page."""
    form = LogFilterForm(params or None)
    qs = queryset if queryset is not None else DetectionLog.objects.all()
    qs = qs.select_related("camera", "user", "batch")
    if not form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in form.errors} if form.is_bound else {}
    else:
        data = form.cleaned_data
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        qs = qs.filter(created_at__lt=_day_start(data["date_to"] + timedelta(days=1)))
    if data.get("source"):
        qs = qs.filter(source=data["source"])
    if data.get("camera"):
        qs = qs.filter(camera=data["camera"])
    face_q = Q()
    if data.get("mask") == "none":
        qs = qs.filter(face_count=0)
    elif data.get("mask"):
        face_q &= effective_mask(data["mask"])
    if data.get("person"):
        face_q &= effective_person(data["person"])
    if data.get("unknown"):
        face_q &= effective_person(None)
    if data.get("reviewed") == "reviewed":
        face_q &= ~Q(review_state=DetectedFace.Review.PENDING)
    elif data.get("reviewed") == "pending":
        face_q &= Q(review_state=DetectedFace.Review.PENDING)
    if face_q:
        qs = qs.filter(Exists(DetectedFace.objects.filter(face_q, log=OuterRef("pk"))))
    return qs, form
