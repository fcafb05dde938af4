"""API throttles: DRF's own classes, counting in the shared "throttle" cache and reading their rates
from the settings at each request (so every web process, and a changed setting, agree)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class SharedCacheRates:
    """Counts in `CACHES["throttle"]` (Redis when configured, shared by every web process).

    A throttle guards capacity, it is not an authorisation: when the cache cannot be reached the
    request goes through (logged), rather than every API call failing with the cache.
    """

    @property
    def cache(self):
        return caches["throttle" if "throttle" in settings.CACHES else "default"]

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except ImproperlyConfigured:
            raise
        except Exception:
            logger.warning("API throttle cache unavailable; request let through", exc_info=True)
            return True


class AnonThrottle(SharedCacheRates, AnonRateThrottle):
    """Requests without credentials, per IP address (they are refused, but still cost a request)."""


class UserThrottle(SharedCacheRates, UserRateThrottle):
    """Every signed-in user's requests, whatever the endpoint."""


class ScopedThrottle(SharedCacheRates, ScopedRateThrottle):
    """Views with a `throttle_scope` (e.g. "analysis": every endpoint that runs the engine) count apart."""
