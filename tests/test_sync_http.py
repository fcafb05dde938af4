"""The web process's HTTP path (maskportal.sync_http): Django's sync handler on pooled threads."""

from __future__ import annotations

import threading

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator
from django.core.signals import request_finished
from django.core.wsgi import get_wsgi_application
from rest_framework.authtoken.models import Token

from maskportal.sync_http import SyncDjangoHTTP
from tests.servers import REPO

HOST = (b"host", b"localhost")


@pytest.fixture
def app():
    return SyncDjangoHTTP(get_wsgi_application(), threads=2)


async def _fetch(app, method: str, path: str, body: bytes = b"", headers=()) -> dict:
    return await HttpCommunicator(app, method, path, body=body, headers=[HOST, *headers]).get_response(timeout=30)


@pytest.mark.django_db(transaction=True)
async def test_a_request_crosses_into_a_pooled_thread_once_and_is_finished_there(app, monkeypatch):
    """Each crossing between the event loop and a thread costs a switch and a wait for the GIL;
    request_finished must fire, or the thread's database connection never goes back to the pool."""
    crossings, finished_in = [], []
    call = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        crossings.append(self.func)
        return await call(self, *args, **kwargs)

    def finished(**kwargs):
        finished_in.append(threading.current_thread().name)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    request_finished.connect(finished)
    try:
        for _ in range(2):
            response = await _fetch(app, "GET", "/accounts/login/")
            assert response["status"] == 200 and b'name="password"' in response["body"]
    finally:
        request_finished.disconnect(finished)
    assert len(crossings) == 2
    assert len(finished_in) == 2 and all(name.startswith("http") for name in finished_in)


async def test_static_files_stream_whole(app):
    response = await _fetch(app, "GET", "/static/css/maskportal.css")
    assert response["status"] == 200
    assert dict(response["headers"])[b"content-type"].startswith(b"text/css")
    assert response["body"] == (REPO / "static" / "css" / "maskportal.css").read_bytes()


@pytest.mark.django_db(transaction=True)
async def test_a_body_sent_without_content_length_still_reaches_the_view(app, staff_user):
    """A chunked upload has no Content-Length; Django reads no body without one."""
    token = await Token.objects.acreate(user=staff_user)
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\nnot a picture\r\n--{boundary}--\r\n").encode()  # fmt: skip
    headers = [(b"authorization", f"Token {token.key}".encode()),
               (b"content-type", f"multipart/form-data; boundary={boundary}".encode())]  # fmt: skip
    response = await _fetch(app, "POST", "/api/v1/analyze/", body, headers)
    assert response["status"] == 400
    assert b"not a recognised image" in response["body"]  # the file arrived; without it: "No file"


async def test_too_many_duplicate_headers_are_a_400(app):
    response = await _fetch(app, "GET", "/accounts/login/", headers=[(b"x-dup", b"1")] * 101)
    assert response["status"] == 400


async def test_a_client_that_leaves_mid_body_gets_no_answer_and_no_error(app, caplog):
    from asgiref.testing import ApplicationCommunicator

    scope = {"type": "http", "method": "POST", "path": "/api/v1/analyze/", "query_string": b"",
             "headers": [HOST], "http_version": "1.1", "scheme": "http", "server": ("t", 80)}  # fmt: skip
    upload = ApplicationCommunicator(app, scope)
    await upload.send_input({"type": "http.request", "body": b"--part", "more_body": True})
    await upload.send_input({"type": "http.disconnect"})
    await upload.wait(timeout=10)  # returns, raising nothing
    assert await upload.receive_nothing()
    assert "client left before sending the whole body" in caplog.text
