"""The landing page after login: compliance figures, trends and recent events, updated live."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from detection.services import stats


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "detection/dashboard.html"

    def get_context_data(self, **kwargs):
        can_view = self.request.user.has_perm("detection.view_detectionlog")
        return super().get_context_data(stats=stats.dashboard() if can_view else None, **kwargs)
