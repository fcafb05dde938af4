"""`make run` and `manage.py`: served safely by default (DEBUG off, the production middleware with
static files through WhiteNoise); debugging is an explicit opt-in with DEBUG=1."""

from .base import *  # noqa: F403

# Static files straight from the source folders too, so an edited file shows without collectstatic.
WHITENOISE_USE_FINDERS = True
