"""The Redis cache backend with one connection pool per process.

Django keeps its cache objects per asgiref context, and RedisCache keeps its connection pool in
the object, so a web process whose every request runs in a new context (ours: Django's sync
handler under uvicorn) opened a new Redis connection for each request that touched the cache:
a TCP connect and a health check, about 13% of the GIL time of an API analysis. Here every
object of one configuration shares one client, whose pool is thread-safe (and rebuilt after a
fork, so Celery's children each get their own).
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    @cached_property
    def _cache(self):
        key = repr((self._servers, sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
