"""Live pages: the browser camera page, fixed cameras (watch for Staff, manage for Admins) and the
Admins' alert webhooks. The video work happens in the sockets (detection.consumers); these pages
only render the page shells and the forms."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import CreateView, DeleteView, DetailView, ListView, TemplateView, UpdateView

from accounts.permissions import AdminRequiredMixin, PermissionRequired
from detection.models import AlertWebhook, Camera, redact_url
from detection.services import alerts
from detection.services.alerts import SIGNATURE_HEADER


class LivePageView(PermissionRequired, TemplateView):
    """Stream this browser's camera to /ws/live/ and draw the results over the video."""

    template_name = "detection/live.html"
    permission_required = "detection.add_detectionlog"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cameras = Camera.objects.filter(enabled=True)
        context["browser_cameras"] = cameras.filter(kind=Camera.Kind.BROWSER)
        context["fixed_cameras"] = cameras.exclude(kind=Camera.Kind.BROWSER)
        return context


class CameraViewPermission(PermissionRequired):
    """Watching a camera; its configuration (kind, stream URL, rate) is shown to `view_camera` only."""

    permission_required = "detection.watch_camera"


class CameraListView(CameraViewPermission, ListView):
    model = Camera
    template_name = "detection/camera_list.html"
    paginate_by = 50


class CameraDetailView(CameraViewPermission, DetailView):
    """A camera's live annotated view, fed by /ws/cameras/<id>/."""

    model = Camera
    template_name = "detection/camera_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["recent_logs"] = self.object.logs.order_by("-created_at")[:10]
        return context


class BootstrapForm(forms.ModelForm):
    """Bootstrap classes on every widget, so templates render plain `{{ field }}`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            kind = getattr(field.widget, "input_type", "")
            css = {"checkbox": "form-check-input", "select": "form-select"}.get(kind, "form-control")
            field.widget.attrs["class"] = css


class CameraForm(BootstrapForm):
    """The camera's settings; a stored stream URL is shown with its password masked, and submitting
    it unchanged keeps the stored one, so credentials are written but never rendered."""

    class Meta:
        model = Camera
        fields = ["name", "location", "kind", "url", "enabled", "max_fps"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = redact_url(self.instance.url)

    def clean(self):
        data = super().clean()
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        if self.instance.pk and url and url == redact_url(self.instance.url):
            url = self.instance.url
        if kind != Camera.Kind.BROWSER and not url:
            self.add_error("url", "A fixed camera needs its stream URL or file path.")
        if kind == Camera.Kind.RTSP and url and not url.lower().startswith(("rtsp://", "rtsps://")):
            self.add_error("url", "An RTSP stream URL starts with rtsp://.")
        if kind == Camera.Kind.MJPEG and url and not url.lower().startswith(("http://", "https://")):
            self.add_error("url", "An MJPEG stream URL starts with http:// or https://.")
        max_fps = data.get("max_fps")
        if max_fps is not None and not 0.1 <= max_fps <= 30:
            self.add_error("max_fps", "Between 0.1 and 30 frames per second.")
        data["url"] = url
        return data


class SavedMessageMixin:
    """A message after a save (the audit event comes from detection.signals, for API changes too)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Saved {self.object}.")
        return response


class CameraCreateView(AdminRequiredMixin, SavedMessageMixin, CreateView):
    model = Camera
    form_class = CameraForm
    template_name = "detection/camera_form.html"
    success_url = reverse_lazy("detection:camera_list")


class CameraUpdateView(CameraCreateView, UpdateView):
    pass


class DeletedMessageMixin:
    def form_valid(self, form):
        messages.success(self.request, f"Deleted {self.object}.")
        return super().form_valid(form)


class CameraDeleteView(AdminRequiredMixin, DeletedMessageMixin, DeleteView):
    model = Camera
    template_name = "detection/camera_confirm_delete.html"
    success_url = reverse_lazy("detection:camera_list")


class WebhookForm(BootstrapForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=AlertWebhook.Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Alerts to send",
        help_text="None ticked: every alert.",
    )
    cameras = forms.ModelMultipleChoiceField(
        queryset=Camera.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="From these cameras",
        help_text="None ticked: every camera (and the live page).",
    )

    class Meta:
        model = AlertWebhook
        fields = ["name", "url", "secret", "enabled", "events", "cameras"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if len(secret) < 16:
            raise forms.ValidationError("Use at least 16 characters.")
        return secret


class WebhookListView(AdminRequiredMixin, ListView):
    queryset = AlertWebhook.objects.prefetch_related("cameras")
    template_name = "detection/camera_webhook_list.html"
    extra_context = {"signature_header": SIGNATURE_HEADER, "event_choices": AlertWebhook.Event.choices}


class WebhookCreateView(AdminRequiredMixin, SavedMessageMixin, CreateView):
    model = AlertWebhook
    form_class = WebhookForm
    template_name = "detection/camera_webhook_form.html"
    success_url = reverse_lazy("detection:webhook_list")


class WebhookUpdateView(WebhookCreateView, UpdateView):
    pass


class WebhookTestView(AdminRequiredMixin, View):
    """POST: send a signed test alert now and say what the receiver answered."""

    def post(self, request, pk):
        webhook = get_object_or_404(AlertWebhook, pk=pk)
        accepted, sentence = alerts.send_test(webhook)
        (messages.success if accepted else messages.error)(request, f"{webhook.name}: {sentence}")
        return redirect("detection:webhook_list")


class WebhookDeleteView(AdminRequiredMixin, DeletedMessageMixin, DeleteView):
    model = AlertWebhook
    template_name = "detection/camera_confirm_delete.html"
    success_url = reverse_lazy("detection:webhook_list")
