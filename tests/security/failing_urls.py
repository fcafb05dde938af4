"""A URLconf with a view that fails, to see what a 500 shows under a given setting."""

from django.urls import path


def fail(request):
    return 1 / 0


urlpatterns = [path("fail/", fail)]
