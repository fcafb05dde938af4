"""API token authentication that keeps the token's user, with their permissions, in the cache.

An API client (a camera, an integration) authenticates every request, and DRF's token lookup plus
the permission check cost three queries each time: about a tenth of the CPU of a whole analysis.
Here one cache read replaces them. An entry holds plain values only: the user's own fields (not
the password) and their permission names, from which an unsaved-looking but complete `User` is
rebuilt. Every entry carries the generation it was built under, and anything that can change who a
token belongs to or what they may do (a token, user, group or permission saved or deleted; a group
membership or a grant changed) starts a new generation, so no process uses an entry made before the
change. A save that only records a login time (`last_login`, on every browser login) changes neither
and leaves the entries alone. Changes that send no signals (a queryset `update()`, raw SQL) take
effect when the entry expires, after TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

logger = logging.getLogger(__name__)

#: User saves that touch only these fields cannot change what a token may do.
IRRELEVANT_USER_FIELDS = frozenset({"last_login"})

TOKEN_CACHE_SECONDS = 60
GENERATION_KEY = "accounts:token-auth-generation"


def _entry_key(token_key: str) -> str:
    return "accounts:token-auth:" + hashlib.sha256(token_key.encode()).hexdigest()  # no raw token in the cache


def _cached(call, *args):
    """The cache is an optimisation: a call that fails is logged and answers None, and the caller
    goes on without it (a voided generation not written leaves entries to expire on their own)."""
    try:
        return call(*args)
    except Exception:
        logger.warning("token cache unavailable (%s)", call.__name__, exc_info=True)
        return None


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Token <key>` header; the lookup and the user's permissions come from the cache when fresh."""

    def authenticate_credentials(self, key):
        entry_key = _entry_key(key)
        found = _cached(cache.get_many, [GENERATION_KEY, entry_key])
        if found is None:  # without the cache, ask the database
            return super().authenticate_credentials(key)
        generation, entry = found.get(GENERATION_KEY), found.get(entry_key)
        if generation is not None and entry is not None and entry[0] == generation:
            return _rebuild(key, entry[1], entry[2])
        if generation is None:  # first use, or evicted: every older entry is void with it
            generation = _start_generation()
        # The generation was read before the database: an entry built from data that a commit is
        # changing carries the generation that the commit voids.
        user, token = super().authenticate_credentials(key)  # raises AuthenticationFailed
        if generation is not None:
            fields = {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields}
            fields.pop("password")
            permissions = sorted(user.get_all_permissions())
            _cached(cache.set, entry_key, (generation, fields, permissions), TOKEN_CACHE_SECONDS)
        return user, token


def _rebuild(key: str, fields: dict, permissions: list[str]):
    """The token's user from cached plain values, with Django's permission caches filled, so
    `has_perm` asks no query; and the token itself (DRF's `request.auth`)."""
    user = get_user_model()(**fields)
    user._state.adding, user._state.db = False, "default"
    user._perm_cache = set(permissions)
    return user, Token(key=key, user=user)


def _start_generation() -> str | None:
    _cached(cache.add, GENERATION_KEY, uuid.uuid4().hex, None)
    return _cached(cache.get, GENERATION_KEY)


def current_generation() -> str | None:
    """The generation now (started if there is none); None without a cache. WebSockets compare it
    to the one they loaded their user under, to reload only after a change."""
    generation = _cached(cache.get, GENERATION_KEY)
    return generation if generation is not None else _start_generation()


def _void_entries() -> None:
    _cached(cache.set, GENERATION_KEY, uuid.uuid4().hex, None)


def new_generation(sender=None, update_fields=None, **kwargs) -> None:
    """Void every cached token entry, now (this transaction's own reads) and again at commit
    (entries another process built from the data as it was before the commit)."""
    if sender is get_user_model() and update_fields and set(update_fields) <= IRRELEVANT_USER_FIELDS:
        return
    _void_entries()
    transaction.on_commit(_void_entries)


def connect_invalidation() -> None:
    User = get_user_model()
    for model in (Token, User, Group, Permission):
        post_save.connect(new_generation, sender=model, dispatch_uid=f"token_auth_saved_{model.__name__}")
        post_delete.connect(new_generation, sender=model, dispatch_uid=f"token_auth_deleted_{model.__name__}")
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(new_generation, sender=through, dispatch_uid=f"token_auth_m2m_{through.__name__}")
