"""Serving: request bodies over the cap refused before they are buffered, chunked bodies and static
files still served by the standard server, `make run` without DEBUG, `.env` never committed."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from rest_framework.authtoken.models import Token

from maskportal.asgi import application
from maskportal.body_limit import BodySizeLimit
from tests.servers import REPO, start_server, stop

CAP = 1024 * 1024
HOST = (b"host", b"localhost")


class RecordingApp:
    """An ASGI app that reads the whole body, as Django's handler does, and keeps what it saw."""

    def __init__(self) -> None:
        self.body = b""
        self.scope: dict = {}
        self.left_early = False

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.left_early = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(headers=()) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/accounts/login/",
        "query_string": b"",
        "headers": [HOST, *headers],
        "http_version": "1.1",
        "scheme": "http",
    }


async def _responses(communicator) -> list[dict]:
    out = [await communicator.receive_output(timeout=5)]
    while out[-1]["type"] == "http.response.start" or out[-1].get("more_body"):
        out.append(await communicator.receive_output(timeout=5))
    return out


async def test_a_declared_length_over_the_cap_is_refused_without_reading_the_body():
    inner = RecordingApp()
    request = ApplicationCommunicator(BodySizeLimit(inner, CAP), _scope([(b"content-length", str(2**40).encode())]))
    start, body = await _responses(request)
    assert start["status"] == 413 and b"too large" in body["body"]
    assert inner.scope == {}  # the application never ran


async def test_a_chunked_body_is_cut_off_once_its_running_total_passes_the_cap():
    inner = RecordingApp()
    request = ApplicationCommunicator(BodySizeLimit(inner, CAP), _scope())
    chunk = b"x" * (CAP // 4)
    for _ in range(5):
        await request.send_input({"type": "http.request", "body": chunk, "more_body": True})
    start, _ = await _responses(request)
    assert start["status"] == 413
    await request.wait(timeout=5)
    assert inner.left_early and len(inner.body) <= CAP  # never handed more than the cap


async def test_a_chunked_body_under_the_cap_reaches_the_app_with_its_length():
    """Django reads no body without Content-Length: the length of a chunked body is added."""
    inner = RecordingApp()
    request = ApplicationCommunicator(BodySizeLimit(inner, CAP), _scope())
    await request.send_input({"type": "http.request", "body": b"abc", "more_body": True})
    await request.send_input({"type": "http.request", "body": b"de", "more_body": False})
    start, body = await _responses(request)
    assert start["status"] == 200 and inner.body == b"abcde"
    assert (b"content-length", b"5") in inner.scope["headers"]


@pytest.mark.django_db(transaction=True)
async def test_a_chunked_upload_reaches_the_view(staff_user):
    token = await Token.objects.acreate(user=staff_user)
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\nnot a picture\r\n--{boundary}--\r\n"
    ).encode()
    headers = [
        HOST,
        (b"authorization", f"Token {token.key}".encode()),
        (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
    ]
    response = await HttpCommunicator(application, "POST", "/api/v1/analyze/", body, headers).get_response(timeout=30)
    assert response["status"] == 400
    assert b"not a recognised image" in response["body"]  # the file arrived; without it: "No file"


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_static_files_stream_whole():
    scope = dict(_scope(), method="GET", path="/static/css/maskportal.css")
    request = ApplicationCommunicator(application, scope)
    await request.send_input({"type": "http.request", "body": b""})
    start, *body = await _responses(request)
    assert start["status"] == 200
    assert {name.lower(): value for name, value in start["headers"]}[b"content-type"].startswith(b"text/css")
    assert b"".join(part.get("body", b"") for part in body) == (REPO / "static" / "css" / "maskportal.css").read_bytes()


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    """The real web server (as `make run` starts it) with a 1 MiB body cap; no database is touched."""
    var_dir = tmp_path_factory.mktemp("capped")
    proc, port, log = start_server(
        db_name="unused", var_dir=var_dir, log_name="capped", env={"MAX_REQUEST_BYTES": str(CAP)}, timeout=120
    )
    try:
        yield port, log
    finally:
        stop(proc)


def _status(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3})", raw)
    assert match, raw[:200]
    return int(match.group(1))


def test_the_server_refuses_a_declared_oversize_body_at_once(capped_server):
    port, _ = capped_server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1073741824\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        assert _status(conn.recv(4096)) == 413


def test_the_server_stops_an_anonymous_chunked_flood_at_the_cap(capped_server):
    """The attack of issue 16: a chunked 1 GiB POST to the login page was spooled whole before its 403.
    Now the server answers 413 and closes long before a 64 MiB body is through."""
    port, _ = capped_server
    total, chunk = 64 * 2**20, b"x" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        try:
            while sent < total:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            conn.sendall(b"0\r\n\r\n")  # the whole body went through: let the server answer
        except OSError:  # the server answered and closed the connection
            pass
        assert _status(conn.recv(4096)) == 413
    assert sent < total / 2, f"the server read {sent} bytes of an oversize body"


MAKE_RUN_PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

client = Client(raise_request_exception=False)
missing = client.get("/no-such-page/")
with override_settings(ROOT_URLCONF="tests.security.failing_urls"):
    failing = client.get("/fail/")
print(settings.DEBUG, missing.status_code, failing.status_code)
print(missing.content.decode() + failing.content.decode())
"""


def _make_run_settings() -> str:
    """The settings module `make run` serves with, read from the Makefile itself."""
    found = re.search(r"^export DJANGO_SETTINGS_MODULE \?= (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert found, "the Makefile names no default settings module"
    return found.group(1)


def _probe(tmp_path: Path, **extra: str) -> tuple[list[str], str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": _make_run_settings(),
        "MASKPORTAL_VAR_DIR": str(tmp_path),
        **extra,
    }
    out = subprocess.run(
        [sys.executable, "-c", MAKE_RUN_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    first, _, pages = out.stdout.partition("\n")
    return first.split(), pages


def test_make_run_serves_without_debug_pages(tmp_path):
    (debug, missing, failing), pages = _probe(tmp_path)
    assert debug == "False" and missing == "404" and failing == "500"
    for leak in ("URLconf", "URL patterns", "Traceback", "ZeroDivisionError", "SECRET_KEY", str(REPO)):
        assert leak not in pages


def test_debug_is_an_explicit_opt_in(tmp_path):
    (debug, *_), _ = _probe(tmp_path, DEBUG="1")
    assert debug == "True"


def test_dotenv_files_are_never_committed():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, timeout=30)
    assert out.returncode == 0, ".env is not git-ignored"
