"""Pages of photo analysis: upload, result / log detail, detection log with CSV, review, batches."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import DetailView, ListView

from accounts.audit import record
from accounts.models import AuditEvent
from accounts.permissions import PermissionRequired as Perm
from detection.engine.imageio import ImageDecodeError
from detection.engine.pipeline import MODES
from detection.filters import LogFilterSet
from detection.models import BatchJob, DetectedFace, DetectionLog, MaskLabel, Person
from detection.services import batches
from detection.services.analysis import analyse_and_log
from detection.services.annotation import annotated_jpeg
from detection.services.review import UNCHANGED, overlay, reading_order, review_faces
from detection.services.uploads import UploadError, expand_uploads, is_zip, read_upload
from maskportal.spreadsheet import csv_response

logger = logging.getLogger(__name__)


class UploadForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[(m, m.capitalize()) for m in MODES], required=False, initial=settings.ENGINE_UPLOAD_MODE
    )
    recognize = forms.BooleanField(required=False, initial=True, label="Recognise registered people")


class UploadView(Perm, View):
    """One image is analysed at once; several files or a ZIP become a batch job."""

    permission_required = "detection.add_detectionlog"
    template_name = "detection/upload.html"

    def get(self, request):
        return self.render(UploadForm())

    def render(self, form, errors=(), status=200):
        return render(
            request=self.request,
            template_name=self.template_name,
            status=status,
            context={"form": form, "errors": errors},
        )

    def post(self, request):
        form = UploadForm(request.POST)
        files = request.FILES.getlist("files")
        if not form.is_valid():
            return self.render(form, status=400)
        if not files:
            return self.render(form, ["Choose at least one image or ZIP archive."], status=400)
        mode, recognize = form.cleaned_data["mode"] or settings.ENGINE_UPLOAD_MODE, form.cleaned_data["recognize"]
        if len(files) == 1:
            try:
                data = read_upload(files[0])
            except UploadError as exc:
                logger.info("upload refused: %s", exc)
                return self.render(form, [str(exc)], status=400)
            if not is_zip(data):
                return self.analyse_one(form, files[0].name, data, mode, recognize)
        if not request.user.has_perm("detection.add_batchjob"):
            raise PermissionDenied("Batches need the permission to add batch jobs.")
        batch = batches.create_batch(request.user, expand_uploads(files), mode=mode, recognize=recognize)
        if batch.status == BatchJob.Status.FAILED:
            messages.error(request, "None of the files could be analysed; see the reasons below.")
        return redirect("detection:batch_detail", pk=batch.pk)

    def analyse_one(self, form, name, data, mode, recognize):
        try:
            log = analyse_and_log(
                data,
                user=self.request.user,
                source=DetectionLog.Source.UPLOAD,
                original_name=name,
                mode=mode,
                recognize=recognize,
            )
        except ImageDecodeError as exc:
            logger.info("upload %s refused: %s", name, exc)
            return self.render(form, [f"{name}: {exc}"], status=400)
        return redirect("detection:log_detail", pk=log.pk)


class LogListView(Perm, ListView):
    permission_required = "detection.view_detectionlog"
    template_name = "detection/log_list.html"
    paginate_by = 25

    def get_queryset(self):
        self.filterset = LogFilterSet(self.request.GET)
        return self.filterset.with_matching_faces(self.filterset.qs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            filter_form=self.filterset.form,
            face_filter=self.filterset.active_face_filter,
            query=_query_without_page(self.request),
            **kwargs,
        )


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class LogExportView(Perm, View):
    """The filtered list as CSV, one row per selected face (with no face filter, a log without faces
    gets one row)."""

    permission_required = "detection.view_detectionlog"
    HEADER = [
        "log_id",
        "created_at",
        "source",
        "camera",
        "user",
        "file",
        "model_version",
        "face_id",
        "box",
        "score",
        "mask",
        "mask_probability",
        "reviewed_mask",
        "person",
        "reviewed_person",
        "review_state",
        "fallback",
    ]

    def get(self, request):
        filterset = LogFilterSet(request.GET)
        logs = filterset.with_matching_faces(filterset.qs)
        empty_rows = not filterset.active_face_filter

        def rows():
            yield self.HEADER
            for log in logs.iterator(chunk_size=500):
                base = [
                    log.pk,
                    log.created_at.isoformat(),
                    log.source,
                    log.camera.name if log.camera_id else "",
                    log.user.username if log.user_id else "",
                    log.original_name,
                    log.model_version,
                ]
                if not log.matching_faces and empty_rows:
                    yield base + [""] * (len(self.HEADER) - len(base))
                for f in log.matching_faces:
                    yield base + [
                        f.pk,
                        " ".join(f"{v:.0f}" for v in f.box),
                        f"{f.score:.3f}",
                        f.mask_label,
                        f"{f.mask_probability:.3f}",
                        f.corrected_mask_label,
                        f.person.display_name if f.person else "",
                        f.corrected_person.display_name if f.corrected_person else "",
                        f.review_state,
                        f.fallback,
                    ]

        record(
            AuditEvent.Kind.CSV_EXPORTED,
            object_repr="Detection log",
            filters={k: v for k, v in request.GET.items() if v},
            rows=logs.count(),
        )
        return csv_response(rows(), "detections.csv")


class LogDetailView(Perm, DetailView):
    """The result page of an analysis: the photo with numbered face boxes (drawn by result.js from
    `overlay`), the faces in the same order with one review form for the whole photo, timings."""

    permission_required = "detection.view_detectionlog"
    template_name = "detection/log_detail.html"
    queryset = DetectionLog.objects.select_related("camera", "user", "batch")

    def get_context_data(self, **kwargs):
        faces = reading_order(self.object.faces.select_related("person", "corrected_person", "reviewed_by"))
        return super().get_context_data(
            faces=faces,
            overlay=overlay(self.object, faces),
            people=Person.objects.filter(active=True),
            mask_choices=MaskLabel.choices,
            can_review=self.request.user.has_perm("detection.change_detectedface"),
            **kwargs,
        )


class LogImageView(Perm, View):
    """The stored photo, annotated unless ?raw=1 (served through a view: photos are not public)."""

    permission_required = "detection.view_detectionlog"

    def get(self, request, pk):
        log = get_object_or_404(DetectionLog, pk=pk)
        if not log.image:
            raise Http404("No image was stored for this analysis.")
        if request.GET.get("raw"):
            with log.image.open("rb") as handle:
                return _image_response(handle.read(), _content_type(log.image.name))
        return _image_response(annotated_jpeg(log), "image/jpeg")


class FaceCropView(Perm, View):
    permission_required = "detection.view_detectedface"

    def get(self, request, pk):
        face = get_object_or_404(DetectedFace, pk=pk)
        if not face.crop:
            raise Http404("No crop was stored for this face.")
        with face.crop.open("rb") as handle:
            return _image_response(handle.read(), "image/jpeg")


def _content_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {
        "jpg": "image/jpeg",
        "png": "image/png",
        "webp": "image/webp",
        "gif": "image/gif",
        "bmp": "image/bmp",
        "mpo": "image/jpeg",
    }.get(ext, "application/octet-stream")


def _image_response(data: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, max-age=300"
    return response


class FaceReviewForm(forms.Form):
    mask_label = forms.ChoiceField(choices=MaskLabel.choices)
    person = forms.CharField(required=False, help_text="A person id, or empty for an unknown person.")

    def clean_person(self):
        value = self.cleaned_data["person"]
        if value in ("", "unknown"):
            return None
        if value == "keep":
            return UNCHANGED
        try:
            return Person.objects.get(pk=int(value))
        except (ValueError, Person.DoesNotExist) as exc:
            raise forms.ValidationError("Unknown person.") from exc


class FaceReviewView(Perm, View):
    permission_required = "detection.change_detectedface"

    def post(self, request, pk):
        face = get_object_or_404(DetectedFace.objects.select_related("log"), pk=pk)
        form = FaceReviewForm(request.POST)
        if not form.is_valid():
            logger.info("review of face %s refused: %s", pk, form.errors.as_json())
            messages.error(request, f"Review not saved: {form.errors.as_text()}")
            return redirect("detection:log_detail", pk=face.log_id)
        decision = (form.cleaned_data["mask_label"], form.cleaned_data["person"])
        face = next(f for f in review_faces(face.log, {face.pk: decision}, user=request.user) if f.pk == face.pk)
        messages.success(request, f"Face {face.pk}: {face.get_review_state_display().lower()}.")
        target = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect("detection:log_detail", pk=face.log_id)


class PhotoReviewForm(forms.Form):
    """The review of a whole photo: `mask-<face id>` and `person-<face id>` (blank: unknown) for
    the faces that change; `all_correct` confirms every face as it stands, ignoring the fields."""

    all_correct = forms.BooleanField(required=False)

    def __init__(self, faces: list[DetectedFace], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.faces = faces
        for face in faces:
            self.fields[f"mask-{face.pk}"] = forms.ChoiceField(choices=MaskLabel.choices, required=False)
            self.fields[f"person-{face.pk}"] = forms.ModelChoiceField(Person.objects.all(), required=False)

    def decisions(self) -> dict[int, tuple]:
        """Every face of the photo is reviewed: what a field says, else the face as it stands."""
        data = self.cleaned_data
        out = {}
        for face in self.faces:
            mask, person = face.effective_mask_label, face.effective_person
            if not data["all_correct"]:
                mask = data[f"mask-{face.pk}"] or mask
                if f"person-{face.pk}" in self.data:
                    person = data[f"person-{face.pk}"]
            out[face.pk] = (mask, person)
        return out


class LogReviewView(Perm, View):
    """POST the review of every face of a photo; answers JSON to the page's script (which redraws
    without leaving the page) or redirects back to the result page."""

    permission_required = "detection.change_detectedface"

    def post(self, request, pk):
        log = get_object_or_404(DetectionLog, pk=pk)
        faces = list(log.faces.select_related("person", "corrected_person"))
        form = PhotoReviewForm(faces, request.POST)
        wants_json = "application/json" in request.headers.get("Accept", "")
        if not form.is_valid():
            logger.info("review of detection %s refused: %s", pk, form.errors.as_json())
            if wants_json:
                return JsonResponse({"detail": "Review not saved.", "errors": form.errors}, status=400)
            messages.error(request, f"Review not saved: {form.errors.as_text()}")
            return redirect("detection:log_detail", pk=pk)
        faces = review_faces(log, form.decisions(), user=request.user)
        corrected = sum(f.review_state == DetectedFace.Review.CORRECTED for f in faces)
        text = f"Review saved: {len(faces) - corrected} confirmed, {corrected} corrected."
        if wants_json:
            return JsonResponse(overlay(log, faces) | {"message": text})
        messages.success(request, text)
        return redirect("detection:log_detail", pk=pk)


def visible_batches(user):
    return BatchJob.objects.select_related("owner").visible_to(user)


class BatchListView(Perm, ListView):
    permission_required = "detection.view_batchjob"
    template_name = "detection/batch_list.html"
    paginate_by = 25

    def get_queryset(self):
        return visible_batches(self.request.user)


class BatchDetailView(Perm, DetailView):
    permission_required = "detection.view_batchjob"
    template_name = "detection/batch_detail.html"

    def get_queryset(self):
        return visible_batches(self.request.user)

    def get_context_data(self, **kwargs):
        items = self.object.items.select_related("log").prefetch_related(
            Prefetch("log__faces", queryset=DetectedFace.objects.select_related("person", "corrected_person"))
        )
        return super().get_context_data(
            items=items,
            retryable=batches.retryable_items(self.object).count(),
            summary=batches.summary(self.object),
            active=self.object.status in batches.ACTIVE,
            progress=batches.progress_for(self.object),
            **kwargs,
        )


class BatchCancelView(Perm, View):
    permission_required = "detection.change_batchjob"

    def post(self, request, pk):
        batch = get_object_or_404(visible_batches(request.user), pk=pk)
        if batches.cancel_batch(batch):
            messages.info(request, "The batch was cancelled; unprocessed items can be retried.")
        else:
            messages.warning(request, "The batch had already finished.")
        return redirect("detection:batch_detail", pk=pk)


class RetryForm(forms.Form):
    """Items of this batch to retry (none: every failed or cancelled item); any other value is refused."""

    item = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, batch: BatchJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(pk, pk) for pk in batch.items.values_list("pk", flat=True)]


class BatchRetryView(Perm, View):
    permission_required = "detection.change_batchjob"

    def post(self, request, pk):
        batch = get_object_or_404(visible_batches(request.user), pk=pk)
        form = RetryForm(request.POST, batch=batch)
        if not form.is_valid():
            messages.error(request, "Nothing retried: choose items of this batch.")
            return redirect("detection:batch_detail", pk=pk)
        count = batches.retry_batch(batch, form.cleaned_data["item"] or None)
        if count:
            messages.info(request, f"{count} item{'s' if count != 1 else ''} queued again.")
        else:
            messages.warning(request, "Nothing to retry (a running batch must finish or be cancelled first).")
        return redirect("detection:batch_detail", pk=pk)
