"""Platform plumbing on the configured back ends: Celery, Channels, migrations, settings."""

import os
import subprocess
import sys

import pytest
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command

from maskportal import realtime
from maskportal.celery import ping
from tests.sockets import token_header

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_celery_round_trip_through_a_real_worker(celery_worker):
    assert ping.delay("hello").get(timeout=60) == "hello"
    expected = "redis" if settings.REDIS_URL else "filesystem"
    assert settings.CELERY_BROKER_URL.startswith(expected)


def _application():
    from channels.auth import AuthMiddlewareStack

    from accounts.ws_auth import TokenAuthMiddleware
    from maskportal.routing import websocket_urlpatterns

    return AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))


@pytest.mark.django_db(transaction=True)
async def test_websocket_round_trip_between_groups(admin_user, staff_user):
    from channels.db import database_sync_to_async
    from rest_framework.authtoken.models import Token

    admin_token = await database_sync_to_async(Token.objects.create)(user=admin_user)
    staff_token = await database_sync_to_async(Token.objects.create)(user=staff_user)
    first = WebsocketCommunicator(_application(), "/ws/notifications/", headers=[token_header(admin_token.key)])
    second = WebsocketCommunicator(_application(), "/ws/notifications/", headers=[token_header(staff_token.key)])
    assert (await first.connect())[0] and (await second.connect())[0]

    async def next_of(socket, kind):
        """The next message of a kind (the dashboard group may carry other tests' live events)."""
        while True:
            msg = await socket.receive_json_from(timeout=5)
            if msg["type"] == kind:
                return msg

    layer = get_channel_layer()
    to_admin = {"type": realtime.EVENT_TYPE, "message": realtime.message("alert", level="info", text="to admin")}
    await layer.group_send(realtime.user_group(admin_user.pk), to_admin)
    assert (await next_of(first, "alert"))["text"] == "to admin"

    await realtime.apublish(realtime.DASHBOARD_GROUP, realtime.message("alert", level="info", text="everyone"))
    assert (await next_of(first, "alert"))["text"] == "everyone"
    assert (await next_of(second, "alert"))["text"] == "everyone", "the staff socket saw the admin's own alert"

    await second.send_json_to({"type": "ping", "id": 7})
    assert await next_of(second, "pong") == {"type": "pong", "id": 7}
    await first.disconnect()
    await second.disconnect()


async def test_anonymous_websocket_is_refused():
    communicator = WebsocketCommunicator(_application(), "/ws/notifications/")
    connected, code = await communicator.connect()
    assert not connected and code == 4401


@pytest.mark.django_db(transaction=True)
async def test_bad_token_websocket_is_refused():
    communicator = WebsocketCommunicator(_application(), "/ws/notifications/", headers=[token_header("nope")])
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize("mode", ["development", "production", "test"])
def test_settings_load_in_every_mode(mode):
    env = dict(os.environ, SECRET_KEY="x" * 60, ALLOWED_HOSTS="example.org")
    env["DJANGO_SETTINGS_MODULE"] = f"maskportal.settings.{mode}"
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_several_web_processes_are_refused_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(WEB_CONCURRENCY="2", MASKPORTAL_PORT="1", MASKPORTAL_VAR_DIR=str(tmp_path))
    out = subprocess.run(["deploy/start-web"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "needs REDIS_URL" in out.stderr


def test_the_web_process_keeps_its_startup_objects_out_of_full_collections():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="maskportal.settings.test")
    code = "import gc, maskportal.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    frozen, collectable = map(int, out.stdout.split()[-2:])
    assert frozen > 50_000 and collectable < frozen / 10, (frozen, collectable)


def test_production_settings_pass_deploy_checks():
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="maskportal.settings.production",
        SECRET_KEY="k3y-" + "x9Q#" * 20,
        ALLOWED_HOSTS="maskportal.example.org",
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def test_publish_from_another_process_reaches_the_web_process_without_redis(tmp_path, settings):
    """The embedded outbox: a message published where no relay runs is left for the web process."""
    if settings.REDIS_URL:
        pytest.skip("with Redis every process shares the channel layer")
    settings.REALTIME_OUTBOX_DIR = tmp_path
    realtime.publish("dashboard", realtime.message("alert", text="from a worker"))
    assert len(list(tmp_path.glob("*.json"))) == 1


def _origin_checked_app():
    from accounts.ws_auth import origin_checked

    return origin_checked(_application())


@pytest.mark.django_db(transaction=True)
async def test_foreign_origin_is_refused_but_a_token_client_without_origin_is_not(staff_user):
    from channels.db import database_sync_to_async
    from rest_framework.authtoken.models import Token

    token = await database_sync_to_async(Token.objects.create)(user=staff_user)
    url, auth = "/ws/notifications/", token_header(token.key)
    foreign = WebsocketCommunicator(_origin_checked_app(), url, headers=[(b"origin", b"http://evil.example"), auth])
    assert not (await foreign.connect())[0]
    own = WebsocketCommunicator(_origin_checked_app(), url, headers=[(b"origin", b"http://127.0.0.1:8000"), auth])
    assert (await own.connect())[0]
    await own.disconnect()
    script = WebsocketCommunicator(_origin_checked_app(), url, headers=[auth])
    assert (await script.connect())[0]
    await script.disconnect()


def test_outbox_messages_nobody_relayed_in_time_are_pruned(tmp_path, settings):
    settings.REALTIME_OUTBOX_DIR = tmp_path
    stale = tmp_path / f"{1:020d}-old.json"
    stale.write_text("{}")
    realtime._write_outbox("dashboard", realtime.message("alert", text="fresh"))
    realtime._prune_outbox()
    assert not stale.exists() and len(list(tmp_path.glob("*.json"))) == 1


def test_redis_cache_objects_of_every_request_share_one_connection_pool(settings):
    """Django makes a cache object per asgiref context (each request of the web process)."""
    import contextvars

    from django.core.cache import caches

    backend = "maskportal.cache.SharedPoolRedisCache"
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/7"}}
    first, second = (contextvars.Context().run(lambda: caches["default"]) for _ in range(2))
    assert first is not second
    assert first._cache is second._cache  # no connection is made to check this
