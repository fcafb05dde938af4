"""The platform settings page (Admin role): recognition threshold, image storage and retention."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.urls import reverse_lazy
from django.views.generic import UpdateView

from accounts.permissions import AdminRequiredMixin
from detection.models import PlatformSettings
from detection.services.gallery import registry_changed


class SettingsForm(forms.ModelForm):
    class Meta:
        model = PlatformSettings
        fields = ["recognition_threshold", "store_images", "image_retention_days"]
        help_texts = {
            "recognition_threshold": (
                "Largest face distance still accepted as the same person (0 to 2; lower is stricter). "
                "Blank: the engine's tuned default. Matches against synthetic masked variants use a "
                "proportionally stricter threshold."
            ),
        }

    def clean_recognition_threshold(self):
        value = self.cleaned_data["recognition_threshold"]
        if value is not None and not 0.0 < value < 2.0:
            raise forms.ValidationError("Use a distance between 0 and 2, or leave it blank.")
        return value


class SettingsView(AdminRequiredMixin, UpdateView):
    form_class = SettingsForm
    template_name = "detection/settings.html"
    success_url = reverse_lazy("detection:settings")

    def get_object(self, queryset=None):
        return PlatformSettings.current()

    def form_valid(self, form):
        threshold_changed = "recognition_threshold" in form.changed_data
        response = super().form_valid(form)
        if threshold_changed:
            registry_changed()  # every process rebuilds its gallery with the new threshold
        messages.success(self.request, "Settings saved.")
        return response
