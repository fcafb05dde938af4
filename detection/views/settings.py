"""The platform settings page (Admin role): recognition threshold, image storage, privacy modes,
consent, and the retention of images and of the audit trail; every change is audited."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.urls import reverse_lazy
from django.views.generic import UpdateView

from accounts.audit import changes, record, snapshot
from accounts.models import AuditEvent
from accounts.permissions import AdminRequiredMixin
from detection.models import PlatformSettings
from detection.services.gallery import registry_changed

#: Changes to these fields change who the gallery matches, so every process rebuilds it.
GALLERY_FIELDS = {"recognition_threshold", "require_consent"}


class SettingsForm(forms.ModelForm):
    class Meta:
        model = PlatformSettings
        fields = [
            "recognition_threshold",
            "store_images",
            "image_retention_days",
            "privacy_uploads",
            "privacy_batches",
            "privacy_cameras",
            "require_consent",
            "erasure_grace_days",
            "audit_retention_days",
        ]
        labels = {"recognition_threshold": "Recognition strictness (match distance)"}
        help_texts = {
            "recognition_threshold": (
                "How alike a face must be to a registered person's photos to be named as them. "
                "A lower number is stricter: strangers are almost never given someone's name, but more "
                "registered people stay \u201cunknown\u201d (masked faces first). A higher number is looser: "
                "more people are named, and more strangers are mistaken for someone. Leave it blank for the "
                "engine's tuned balance, and change it in small steps (0.05). The number is a face distance "
                "from 0 (identical) to 2 (opposite); masked faces are matched a little more strictly."
            ),
        }

    def clean_recognition_threshold(self):
        value = self.cleaned_data["recognition_threshold"]
        if value is not None and not 0.0 < value < 2.0:
            raise forms.ValidationError("Use a distance between 0 and 2, or leave it blank.")
        return value

    def clean(self):
        data = super().clean()
        audit, images = data.get("audit_retention_days"), data.get("image_retention_days")
        if audit and (images == 0 or (images is not None and audit < images)):
            self.add_error(
                "audit_retention_days",
                "Keep the audit trail at least as long as detection images (0 keeps it forever).",
            )
        return data


class SettingsView(AdminRequiredMixin, UpdateView):
    form_class = SettingsForm
    template_name = "detection/settings.html"
    success_url = reverse_lazy("detection:settings")

    def get_object(self, queryset=None):
        return PlatformSettings.current()

    def form_valid(self, form):
        fields = form.Meta.fields
        old = PlatformSettings.current()  # the form changed self.object in place already
        response = super().form_valid(form)
        changed = [name for name in fields if getattr(old, name) != getattr(self.object, name)]
        if changed:
            record(
                AuditEvent.Kind.SETTINGS_CHANGED,
                obj=self.object,
                object_repr="Platform settings",
                changes=changes(snapshot(old, changed), snapshot(self.object, changed)),
            )
        if GALLERY_FIELDS & set(changed):
            registry_changed()  # every process rebuilds its gallery with the new threshold or consent rule
        messages.success(self.request, "Settings saved.")
        return response
