"""Every page and API endpoint refuses anonymous requests; walks the URL resolver so later
endpoints are covered without touching this test."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"accounts:login", "accounts:logout", "admin:login", "admin:logout", "favicon"}
SAMPLE_ARGS = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
    "drf_format_suffix": ".json",
}


def walk(resolver=None, prefix="", namespace=""):
    """(name, route) of every URL pattern, included ones too (the access matrix walks the same)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            if ns and namespace and pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}"
            yield from walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name, prefix + str(pattern.pattern)


def concrete(route: str) -> str | None:
    """Turn a route (path converters or a regex) into a concrete URL with sample arguments.

    Regex groups go first: `(?P<pk>[^/.]+)` must not be read as a `<pk>` path converter (the API's
    detail routes were skipped that way)."""
    url = re.sub(r"\(\?P<format>[^)]*\)", "json", route)
    url = re.sub(r"\(\?P<\w+>[^)]*\)", "1", url)
    url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_ARGS.get(m.group(1) or "str", "x"), url)
    url = url.replace("^", "").replace("$", "").replace("/?", "/").replace("\\.", ".")
    if any(ch in url for ch in "()[]?*+\\"):
        return None
    return "/" + url


def _endpoints():
    seen = set()
    for name, route in walk():
        url = concrete(route)
        if url is None or url in seen or name in PUBLIC or url.startswith("/static/"):
            continue
        seen.add(url)
        yield pytest.param(url, id=f"{name or '-'} {url}")


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(_endpoints()))
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_refused(client, url, method):
    response = getattr(client, method)(url)
    if response.status_code in (301, 302):
        assert "/login/" in response["Location"], f"{url} redirects anonymous users to {response['Location']}"
    else:
        assert response.status_code in (401, 403), f"{method.upper()} {url} answered {response.status_code}"


def test_the_walk_finds_the_platform_pages():
    urls = {p.values[0] for p in _endpoints()}
    assert {"/", "/accounts/users/", "/accounts/profile/", "/api/schema/"} <= urls
    assert {"/api/v1/people/1/", "/api/v1/people/1/faces/1/", "/api/v1/batches/1/retry/"} <= urls
