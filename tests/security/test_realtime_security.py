"""WebSockets: a disabled user's sockets close at once, permissions are checked per message, every
message type declares its permission, tokens never travel (or get logged) in URLs, unknown paths
and bad frames are refused cleanly."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.authtoken.models import Token

from accounts import services
from maskportal import realtime
from maskportal.asgi import application
from tests.servers import REPO, start_server, stop
from tests.sockets import token_header

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


async def token_for(user) -> str:
    return (await database_sync_to_async(Token.objects.create)(user=user)).key


async def open_socket(path: str, key: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=[ORIGIN, (b"host", b"testserver"), token_header(key)])
    connected, code = await socket.connect(timeout=10)
    assert connected, f"{path} refused with {code}"
    return socket


async def next_of(socket: WebsocketCommunicator, kind: str, timeout: float = 10) -> dict:
    while True:
        msg = await socket.receive_json_from(timeout=timeout)
        if msg["type"] == kind:
            return msg


async def closed_with(socket: WebsocketCommunicator, timeout: float = 10) -> int:
    """The close code the server sent, skipping messages that came before it."""
    while True:
        output = await socket.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


async def test_disabling_a_user_closes_their_open_sockets_at_once(staff_user):
    key = await token_for(staff_user)
    dashboard = await open_socket("/ws/notifications/", key)
    live = await open_socket("/ws/live/", key)
    await database_sync_to_async(services.set_active)(staff_user, False)
    assert await closed_with(dashboard) == 4401
    assert await closed_with(live) == 4401


async def test_a_role_removed_stops_the_messages_that_need_it_and_the_frames(staff_user):
    key = await token_for(staff_user)
    live = await open_socket("/ws/live/", key)
    dashboard = await open_socket("/ws/notifications/", key)

    def remove_role():
        staff_user.groups.clear()

    await database_sync_to_async(remove_role)()
    assert await closed_with(live) == 4403  # the live socket needs detection.add_detectionlog
    await realtime.apublish(realtime.DASHBOARD_GROUP, realtime.message("alert", level="danger", text="Jo, no mask"))
    assert await dashboard.receive_nothing(timeout=1)  # names in alerts need detection.view_detectionlog
    await dashboard.send_json_to({"type": "ping", "id": 1})  # the socket itself (any active user) stays open
    assert await next_of(dashboard, "pong") == {"type": "pong", "id": 1}
    await dashboard.disconnect()


async def test_a_revoked_token_closes_the_sockets_it_opened(staff_user):
    socket = await open_socket("/ws/notifications/", await token_for(staff_user))
    await database_sync_to_async(services.revoke_token)(staff_user)
    assert await closed_with(socket) == 4401


def _message_types_used() -> set[str]:
    """Every literal type passed to realtime.message(...) anywhere in the platform's code."""
    used = set()
    packages = [p for p in REPO.iterdir() if (p / "__init__.py").exists() and p.name != "tests"]
    for path in (f for package in packages for f in package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = getattr(node, "func", None) and getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name == "message" and node.args and isinstance(node.args[0], ast.Constant):
                used.add(node.args[0].value)
    return used


def test_every_realtime_message_type_declares_its_permission():
    used = _message_types_used()
    assert {"detection", "alert", "frame", "progress", "error"} <= used
    assert used <= set(realtime.MESSAGE_TYPES)
    for kind in realtime.MESSAGE_TYPES.values():
        for permission in [kind.permission, *kind.by_kind.values()]:
            assert permission is None or permission.count(".") == 1, kind
    with pytest.raises(ValueError, match="undeclared"):
        realtime.message("secret_stuff", text="x")


async def test_a_token_in_the_query_string_is_not_accepted(staff_user):
    key = await token_for(staff_user)
    in_url = WebsocketCommunicator(application, f"/ws/notifications/?token={key}", headers=[ORIGIN])
    assert await in_url.connect(timeout=10) == (False, 4401)
    socket = await open_socket("/ws/notifications/", key)  # the header works
    await socket.disconnect()


async def test_a_browser_can_send_its_token_as_a_subprotocol(staff_user):
    key = await token_for(staff_user)
    socket = WebsocketCommunicator(
        application, "/ws/notifications/", headers=[ORIGIN], subprotocols=["maskportal.token", key]
    )
    connected, subprotocol = await socket.connect(timeout=10)
    assert connected and subprotocol == "maskportal.token"  # the token itself is never echoed
    await socket.disconnect()


async def test_an_unknown_path_is_refused_with_a_close_code():
    for path in ("/ws/nothing-here/", "/ws/cameras/abc/", "/elsewhere"):
        socket = WebsocketCommunicator(application, path, headers=[ORIGIN])
        assert await socket.connect(timeout=10) == (False, 4404), path


async def test_binary_and_non_json_frames_get_an_error_and_the_socket_lives(staff_user):
    socket = await open_socket("/ws/notifications/", await token_for(staff_user))
    await socket.send_to(bytes_data=b"\x00\x01binary")
    assert (await next_of(socket, "error"))["code"] == "unsupported"
    await socket.send_to(text_data="{not json")
    assert (await next_of(socket, "error"))["code"] == "bad_json"
    await socket.send_to(text_data='"a string"')
    assert (await next_of(socket, "error"))["code"] == "unsupported"
    await socket.send_json_to({"type": "ping", "id": 9})
    assert await next_of(socket, "pong") == {"type": "pong", "id": 9}
    await socket.disconnect()


def _server_log_after(staff_user, exchange) -> tuple[str, str]:
    """Run `exchange(port, token_key)` against the real web server; returns its whole log and the token."""
    from django.db import connection

    key = Token.objects.create(user=staff_user).key
    proc, port, log = start_server(
        db_name=str(connection.settings_dict["NAME"]),
        var_dir=Path(settings.VAR_DIR),
        log_name="realtime-security",
        timeout=120,
    )
    try:
        asyncio.run(exchange(port, key))
    finally:
        stop(proc)
    return log.read_text(errors="replace"), key


def test_tokens_never_reach_the_access_log_and_unknown_paths_leave_no_traceback(staff_user):
    import websockets

    async def exchange(port: int, key: str) -> None:
        base = f"ws://127.0.0.1:{port}"
        header = {"Authorization": f"Token {key}"}
        async with websockets.connect(f"{base}/ws/notifications/", additional_headers=header) as ws:
            await ws.send('{"type": "ping", "id": 1}')
            assert '"pong"' in await asyncio.wait_for(ws.recv(), 30)
        async with websockets.connect(f"{base}/ws/notifications/", subprotocols=["maskportal.token", key]) as ws:
            assert ws.subprotocol == "maskportal.token"
        for path in (f"/ws/notifications/?token={key}", "/ws/no-such-socket/"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(base + path):
                    pass
            assert refused.value.response.status_code == 403, path  # refused, not a 500

    text, key = _server_log_after(staff_user, exchange)
    assert "/ws/notifications/" in text and "token=[redacted]" in text  # the access log was written
    assert key not in text
    assert "Traceback" not in text and " 500" not in text
