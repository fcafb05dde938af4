"""The platform's URLconf plus a view that fails, to see what a 500 shows under a given setting."""

from django.urls import path

from maskportal.urls import urlpatterns as platform_urls


def fail(request):
    return 1 / 0


urlpatterns = [path("fail/", fail), *platform_urls]
