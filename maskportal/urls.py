from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from detection.views.dashboard import DashboardView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("", include("detection.urls")),
    path("accounts/", include("accounts.urls")),
    path("training/", include("training.urls")),
    path("api/v1/", include("maskportal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A page for people: logged-out visitors go to the login page (the schema itself stays API-style).
    # The split view loads its set-up script from a URL: the Content-Security-Policy forbids inline ones.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (the API schema, files): the logo.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("img/logo.svg"), permanent=True), name="favicon"),
]
