"""The landing page after login: compliance figures, trends and recent events, updated live."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from detection.models import Camera, DetectionLog, Person
from detection.services import stats


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "detection/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        can_view = user.has_perm("detection.view_detectionlog")
        first_steps = None
        if not DetectionLog.objects.exists():  # a first run: say what to do first
            first_steps = {"photos": False, "people": Person.objects.exists(), "cameras": Camera.objects.exists()}
        return super().get_context_data(
            stats=stats.dashboard(user=user) if can_view else None, first_steps=first_steps, **kwargs
        )
