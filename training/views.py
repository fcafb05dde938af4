"""Pages of the training app: model versions, training jobs, the training pool, retraining settings.

Views are thin: every action is a call into training.services; errors come back as messages.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts.permissions import PermissionRequired as Perm
from detection.services.uploads import archive_size_problem
from training.models import ModelVersion, TrainingImage, TrainingJob, TrainingSettings
from training.services import jobs, pool, registry, schedule

logger = logging.getLogger(__name__)

MANAGE = "training.manage_models"


# --- model versions -----------------------------------------------------------------------


class ModelListView(Perm, ListView):
    permission_required = "training.view_modelversion"
    template_name = "training/model_list.html"
    paginate_by = 25

    def get_queryset(self):
        return ModelVersion.objects.select_related("job", "parent")


class ModelDetailView(Perm, DetailView):
    permission_required = "training.view_modelversion"
    template_name = "training/model_detail.html"
    model = ModelVersion

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        report = self.object.gate_report or {}
        mine, theirs = report.get("candidate") or {}, report.get("active") or {}
        keys = [k for k in mine if k != "version"]
        context["gate_rows"] = [(k.replace("_", " "), mine.get(k), theirs.get(k)) for k in keys]
        context["eval"] = self.object.metrics.get("eval")
        context["training"] = (self.object.metrics.get("training") or {}).get("val_tflite")
        context["can_manage"] = self.request.user.has_perm(MANAGE)
        return context


class _ModelAction(Perm, View):
    permission_required = MANAGE
    action = staticmethod(registry.activate)
    done = "{} is now active."

    def post(self, request, pk: int):
        version = get_object_or_404(ModelVersion, pk=pk)
        try:
            version = self.action(version, user=request.user)
        except registry.RegistryError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, self.done.format(version))
        return redirect("training:model_detail", pk=pk)


class ModelActivateView(_ModelAction):
    """Activate any version: a rollback to an older one or an override of the gate."""


class ModelRetireView(_ModelAction):
    action = staticmethod(registry.retire)
    done = "{} is retired."


# --- training jobs --------------------------------------------------------------------------


class BootstrapForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else ("form-select" if isinstance(field.widget, forms.Select) else "form-control")
            )
            field.widget.attrs.setdefault("class", css)


class JobForm(BootstrapForm):
    epochs = forms.IntegerField(min_value=0, max_value=jobs.MAX_EPOCHS, help_text="Fine-tuning epochs.")
    input_size = forms.TypedChoiceField(
        coerce=int,
        choices=[(0, "Same as the active model")] + [(s, f"{s} px") for s in jobs.INPUT_SIZES],
        initial=0,
    )


class JobListView(Perm, ListView):
    permission_required = "training.view_trainingjob"
    template_name = "training/job_list.html"
    paginate_by = 25

    def get_queryset(self):
        jobs.reap_stale_jobs()
        return TrainingJob.objects.select_related("created_by", "result_version", "parent_version")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = JobForm(initial={"epochs": TrainingSettings.current().default_epochs})
        context["can_manage"] = self.request.user.has_perm(MANAGE)
        context["pool_size"] = TrainingImage.objects.count()
        context["shortfalls"] = jobs.pool_shortfalls()
        return context


class JobCreateView(Perm, View):
    permission_required = MANAGE

    def post(self, request):
        form = JobForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            return redirect("training:job_list")
        try:
            job = jobs.create_job(request.user, **form.cleaned_data)
        except jobs.JobError as exc:
            messages.error(request, str(exc))
            return redirect("training:job_list")
        return redirect("training:job_detail", pk=job.pk)


class JobDetailView(Perm, DetailView):
    permission_required = "training.view_trainingjob"
    template_name = "training/job_detail.html"

    def get_queryset(self):
        jobs.reap_stale_jobs()
        return TrainingJob.objects.select_related("created_by", "result_version", "parent_version")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["active"] = self.object.status in jobs.IN_PROGRESS
        context["can_manage"] = self.request.user.has_perm(MANAGE)
        return context


class JobCancelView(Perm, View):
    permission_required = MANAGE

    def post(self, request, pk: int):
        job = get_object_or_404(TrainingJob, pk=pk)
        try:
            jobs.cancel_job(job, request.user)
        except jobs.JobError as exc:
            messages.error(request, str(exc))
        else:
            messages.info(request, f"Job {job.pk}: cancellation requested.")
        return redirect("training:job_detail", pk=pk)


# --- the training pool ----------------------------------------------------------------------


class ImportForm(BootstrapForm):
    archive = forms.FileField(required=False, help_text="A ZIP with with_mask/ and without_mask/ folders.")
    folder = forms.CharField(required=False, max_length=500, help_text="Or a folder on the server (absolute path).")

    def clean(self):
        data = super().clean()
        if bool(data.get("archive")) == bool(data.get("folder")):
            raise forms.ValidationError("Give either a ZIP file or a server folder.")
        folder = data.get("folder")
        if folder and not (Path(folder).is_absolute() and Path(folder).is_dir()):
            raise forms.ValidationError(f"{folder} is not an absolute path to a folder on the server.")
        archive = data.get("archive")
        if archive and (reason := archive_size_problem(archive.size)):
            raise forms.ValidationError(f"The ZIP is refused: {reason}.")
        return data


class PoolView(Perm, ListView):
    permission_required = "training.view_trainingimage"
    template_name = "training/pool.html"
    paginate_by = 60

    def get_queryset(self):
        rows = TrainingImage.objects.select_related("added_by")
        for key in ("label", "source", "split"):
            if self.request.GET.get(key):
                rows = rows.filter(**{key: self.request.GET[key]})
        return rows

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or ImportForm()
        context["stats"] = pool.stats()
        context["filters"] = {k: self.request.GET.get(k, "") for k in ("label", "source", "split")}
        context["choices"] = {
            "label": TrainingImage.Label.choices,
            "source": TrainingImage.Source.choices,
            "split": TrainingImage.Split.choices,
        }
        context["can_import"] = self.request.user.has_perm("training.add_trainingimage")
        return context

    def post(self, request):
        """Start an import task (ZIP upload or server folder); progress arrives as messages."""
        from training.tasks import import_training_data

        if not request.user.has_perm("training.add_trainingimage"):
            raise PermissionDenied("Importing training data needs the Admin role.")
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            self.object_list = self.get_queryset()
            return self.render_to_response(self.get_context_data(form=form), status=400)
        if form.cleaned_data.get("archive"):
            target = Path(settings.VAR_DIR) / "imports" / f"{uuid.uuid4().hex}.zip"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as fh:
                for chunk in form.cleaned_data["archive"].chunks():
                    fh.write(chunk)
            import_training_data.delay(str(target), request.user.pk, is_zip=True)
        else:
            import_training_data.delay(form.cleaned_data["folder"], request.user.pk)
        messages.info(request, "Import started; the page shows its progress and the pool grows as it runs.")
        return redirect("training:pool")


class PoolImageView(Perm, View):
    permission_required = "training.view_trainingimage"

    def get(self, request, pk: int):
        image = get_object_or_404(TrainingImage, pk=pk)
        try:
            return FileResponse(image.image.open("rb"))
        except OSError as exc:
            raise Http404("image file missing") from exc


# --- scheduled retraining settings --------------------------------------------------------


class RetrainSettingsForm(BootstrapForm):
    enabled = forms.BooleanField(required=False, label="Retrain on a schedule")
    hour = forms.CharField(max_length=60, initial="3", help_text="Cron hour field, e.g. 3 or */6.")
    minute = forms.CharField(max_length=60, initial="0", help_text="Cron minute field.")
    day_of_week = forms.CharField(max_length=60, initial="*", help_text="Cron day-of-week field, e.g. * or 1-5.")
    min_new_images = forms.IntegerField(min_value=1, label="New labelled images needed")
    default_epochs = forms.IntegerField(min_value=0, max_value=jobs.MAX_EPOCHS, label="Fine-tuning epochs")
    gate_margin = forms.FloatField(
        min_value=-100,
        max_value=100,
        label="Gate margin (accuracy points)",
        help_text=TrainingSettings._meta.get_field("gate_margin").help_text,
    )

    def clean(self):
        data = super().clean()
        try:
            schedule.validate_crontab(data.get("minute", ""), data.get("hour", ""), data.get("day_of_week", ""))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


class RetrainSettingsView(Perm, FormView):
    permission_required = MANAGE
    template_name = "training/settings.html"
    form_class = RetrainSettingsForm

    def get_initial(self):
        return schedule.current_settings()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["new_images"] = jobs.new_images_since_active()
        context["task"] = schedule.periodic_task()
        context["active"] = registry.active_version()
        return context

    def form_valid(self, form):
        schedule.save_settings(**form.cleaned_data)
        messages.success(self.request, "Retraining settings saved.")
        return redirect("training:retrain_settings")
