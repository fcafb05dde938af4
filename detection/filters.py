"""The detection-log filters (django-filter): one FilterSet shared by the log page, its CSV export
and the REST API, NetBox style.

Face conditions (mask state, person, unknown, review) select FACES: a photo is listed when one of
its faces meets all of them together, and `matching_faces()` gives exactly those faces, so the list
and the CSV show the faces asked for and never a masked face under "without mask".
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from detection.models import BatchJob, Camera, DetectedFace, DetectionLog, MaskLabel, Person

MASK_CHOICES = [*MaskLabel.choices, ("none", "No faces")]
REVIEW_CHOICES = [("reviewed", "Reviewed"), ("pending", "Not reviewed")]
#: The filters that select faces rather than photos.
FACE_FILTERS = ("mask", "person", "unknown", "reviewed")


def effective_mask(label: str) -> Q:
    """Faces whose reviewed (or else predicted) mask label is `label`."""
    return Q(corrected_mask_label=label) | Q(corrected_mask_label="", mask_label=label)


def effective_person(person: Person | None) -> Q:
    """Faces identified (after review, when reviewed) as `person`; None: unknown faces. The SQL form
    of `DetectedFace.effective_person`."""
    pending = Q(review_state=DetectedFace.Review.PENDING)
    return (pending & Q(person=person)) | (~pending & Q(corrected_person=person))


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _select(attrs: dict | None = None) -> forms.Select:
    return forms.Select(attrs={"class": "form-select form-select-sm", **(attrs or {})})


class LogFilterForm(forms.Form):
    """Rejects an inverted date range (the end date is dropped, the rest still applies)."""

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The start date is after the end date.")
        return data


class LogFilterSet(django_filters.FilterSet):
    date_from = django_filters.DateFilter(
        label="From",
        method="filter_date_from",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    date_to = django_filters.DateFilter(
        label="To",
        method="filter_date_to",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    source = django_filters.ChoiceFilter(choices=DetectionLog.Source.choices, empty_label="Any", widget=_select())
    camera = django_filters.ModelChoiceFilter(queryset=Camera.objects.all(), empty_label="Any", widget=_select())
    batch = django_filters.ModelChoiceFilter(queryset=BatchJob.objects.all(), label="Batch", widget=forms.HiddenInput())
    mask = django_filters.ChoiceFilter(
        choices=MASK_CHOICES, empty_label="Any", label="Mask state", method="filter_faces", widget=_select()
    )
    person = django_filters.ModelChoiceFilter(
        queryset=Person.objects.all(),
        field_name="faces__person",
        label="Person",
        empty_label="Anyone",
        method="filter_faces",
        widget=_select(),
    )
    unknown = django_filters.BooleanFilter(
        label="Unknown faces only",
        method="filter_faces",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    reviewed = django_filters.ChoiceFilter(
        choices=REVIEW_CHOICES, empty_label="Any", label="Review", method="filter_faces", widget=_select()
    )

    class Meta:
        model = DetectionLog
        fields: list[str] = []
        form = LogFilterForm

    def __init__(self, data=None, queryset=None, **kwargs):
        super().__init__(data, queryset if queryset is not None else DetectionLog.objects.all(), **kwargs)

    def filter_date_from(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_date_to(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))

    def filter_faces(self, queryset: QuerySet, name: str, value) -> QuerySet:
        """Face conditions apply together to one face: see `filter_queryset`."""
        return queryset

    def face_conditions(self) -> Q | None:
        """What a face must meet (all the face filters at once), or None when no face filter is set."""
        data = getattr(self.form, "cleaned_data", {}) if self.is_bound else {}
        q = Q()
        if data.get("mask") and data["mask"] != "none":
            q &= effective_mask(data["mask"])
        if data.get("person"):
            q &= effective_person(data["person"])
        if data.get("unknown"):
            q &= effective_person(None)
        if data.get("reviewed") == "reviewed":
            q &= ~Q(review_state=DetectedFace.Review.PENDING)
        elif data.get("reviewed") == "pending":
            q &= Q(review_state=DetectedFace.Review.PENDING)
        return q or None

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset).select_related("camera", "user", "batch")
        if self.form.cleaned_data.get("mask") == "none":
            queryset = queryset.filter(face_count=0)
        face_q = self.face_conditions()
        if face_q is not None:
            queryset = queryset.filter(Exists(DetectedFace.objects.filter(face_q, log=OuterRef("pk"))))
        return queryset

    def matching_faces(self) -> QuerySet:
        """The faces the filters select (every face of the listed photos when no face filter is set)."""
        faces = DetectedFace.objects.select_related("person", "corrected_person")
        face_q = self.face_conditions()
        return faces.filter(face_q) if face_q is not None else faces

    def with_matching_faces(self, queryset: QuerySet) -> QuerySet:
        """`queryset` with each log's selected faces prefetched as `matching_faces`."""
        return queryset.prefetch_related(Prefetch("faces", queryset=self.matching_faces(), to_attr="matching_faces"))

    @property
    def active_face_filter(self) -> bool:
        return self.face_conditions() is not None
