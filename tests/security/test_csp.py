"""A strict Content-Security-Policy: scripts, styles and images from the site only, and no page
that needs more (no inline script, event handler, style attribute or javascript: link)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import AdminFactory
from tests.security.test_access_matrix import routes

TEMPLATES = Path(settings.BASE_DIR) / "templates"
#: What a strict policy refuses to run: <script> without src (JSON data blocks are not run), on*= handlers,
#: style attributes and blocks, javascript: URLs.
INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"<style", re.I),
    re.compile(r"javascript:", re.I),
]


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_every_page_carries_a_strict_policy(client):
    policy = _policy(client.get("/accounts/login/"))
    for directive in ("default-src", "script-src", "style-src", "object-src", "frame-ancestors", "base-uri"):
        assert directive in policy, directive
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert "'none'" in policy["object-src"] and "'none'" in policy["frame-ancestors"]
    assert not any("unsafe" in value for value in policy.values())


def test_no_template_needs_inline_code():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)!r}" for rx in INLINE for m in rx.finditer(text)]
    assert not found, found


@pytest.mark.django_db
def test_no_rendered_page_needs_inline_code():
    """Every page an Admin can open (the API docs included), as rendered, with the policy's header."""
    client = Client()
    client.force_login(AdminFactory())
    found = []
    for param in routes():
        url = param.values[1]
        if url.startswith(("/admin/", "/api/v1/", "/favicon")):
            continue
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        assert "Content-Security-Policy" in response, url
        html = response.content.decode()
        found += [f"{url}: {m.group(0)!r}" for rx in INLINE for m in rx.finditer(html)]
    assert not found, found
