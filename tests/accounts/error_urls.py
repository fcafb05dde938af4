"""The platform's URLs plus one view that fails, to see the 500 page users get."""

from django.urls import path

from maskportal.urls import urlpatterns as platform_urls


def fail(request):
    raise RuntimeError("secret internal detail /srv/maskportal/settings.py")


urlpatterns = [*platform_urls, path("fail/", fail)]
