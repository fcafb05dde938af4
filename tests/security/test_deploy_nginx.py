"""The production recipe, end to end: production settings, `collectstatic`, `check --deploy`, two web
processes on PostgreSQL + Redis behind a real nginx using the shipped site file (TLS, static files,
body cap, WebSocket upgrade), then what a user does through nginx: log in, upload a photo, stream a
live frame, and watch a dashboard socket held by one web process receive the detection that an
upload made through the other.

Skipped on the embedded back ends (no PostgreSQL or Redis) and where nginx is not installed
(`make nginx` installs Debian's package).
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.detection.analysis_fixtures import classifier, face_jpeg  # noqa: F401  (fixtures)
from tests.factories import UserFactory
from tests.servers import REPO, free_port, start_server, stop, wait_for_port

SITE_FILE = REPO / "deploy" / "nginx" / "maskportal.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
PASSWORD = "a-long-Passphrase-" + secrets.token_hex(4)

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (the web processes share events through Redis)"),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="needs PostgreSQL"
    ),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make nginx)"),
]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the test client trusts exactly it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _render_site(replacements: dict[str, str]) -> str:
    """The shipped site file with its machine-specific lines replaced (each must be there exactly once,
    so the test follows the file)."""
    text = SITE_FILE.read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} not found once in {SITE_FILE}"
        text = text.replace(old, new)
    return text


def _nginx_conf(tmp: Path, site: Path) -> Path:
    """A main nginx.conf for an unprivileged, self-contained nginx including the site file."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the test's private folders
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return conf


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


class Browser:
    """A logged-in HTTPS client (cookies, CSRF) of the site behind nginx."""

    def __init__(self, base: str, cafile: Path) -> None:
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy and no CA bundle from the environment: loopback, our certificate
        self.http.verify = str(cafile)

    def login(self, username: str, password: str) -> None:
        page = self.http.get(f"{self.base}/accounts/login/")
        assert page.status_code == 200, page.status_code
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = self.http.post(
            f"{self.base}/accounts/login/",
            allow_redirects=False,
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.base}/accounts/login/"},
        )
        assert answer.status_code == 302, answer.text[-2000:]
        self.page = page

    def upload(self, jpeg: bytes) -> int:
        headers = {"X-CSRFToken": self.http.cookies["csrftoken"], "Referer": f"{self.base}/"}
        files = {"image": ("door.jpg", jpeg, "image/jpeg")}
        answer = self.http.post(f"{self.base}/api/v1/analyze/", files=files, headers=headers)
        assert answer.status_code == 201, answer.text[-2000:]
        return answer.json()["log_id"]

    def socket(self, path: str, ssl_context: ssl.SSLContext):
        import websockets

        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        url = self.base.replace("https://", "wss://") + path
        return websockets.connect(
            url, ssl=ssl_context, origin=self.base, additional_headers={"Cookie": cookie}, max_size=2**22
        )


def _upstreams(access_log: Path, request: str) -> list[str]:
    """The upstream (web process) of each logged request starting with `request` that nginx passed on, in order."""
    lines = access_log.read_text().splitlines() if access_log.exists() else []
    found = [re.search(r"upstream=(\S+)", line).group(1) for line in lines if f'"{request}' in line]
    return [upstream for upstream in found if upstream != "-"]  # "-": answered by nginx itself (413)


@pytest.fixture
def site(transactional_db, tmp_path):
    """collectstatic, two web processes and nginx, all as the deployment recipe has them."""
    var = tmp_path / "var"
    env = {
        "DJANGO_SETTINGS_MODULE": "maskportal.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MASKPORTAL_VAR_DIR": str(var),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # the test database's files (its active classifier)
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    full_env = {**os.environ, **env}
    collected = _manage(full_env, "collectstatic", "--noinput", "-v", "0")
    assert collected.returncode == 0, collected.stderr[-3000:]
    checked = _manage(full_env, "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]

    https_port, http_port = free_port(), free_port()
    env["CSRF_TRUSTED_ORIGINS"] = f"https://127.0.0.1:{https_port}"
    processes = []
    try:
        web_ports = []
        for name in ("web-a", "web-b"):
            proc, port, _ = start_server(
                db_name=connection.settings_dict["NAME"], var_dir=tmp_path, log_name=name, env=env, timeout=180
            )
            processes.append(proc)
            web_ports.append(port)
        cert, key = _self_signed(tmp_path)
        access_log = tmp_path / "access.log"
        site_conf = tmp_path / "maskportal.conf"
        site_conf.write_text(
            _render_site(
                {
                    "server 127.0.0.1:8001;": f"server 127.0.0.1:{web_ports[0]};",
                    "server 127.0.0.1:8002;": f"server 127.0.0.1:{web_ports[1]};",
                    "listen 80;": f"listen 127.0.0.1:{http_port};",
                    "listen [::]:80;": "",
                    "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
                    "listen [::]:443 ssl;": "",
                    "/etc/ssl/certs/maskportal.pem": str(cert),
                    "/etc/ssl/private/maskportal.key": str(key),
                    "/var/log/nginx/maskportal.access.log": str(access_log),
                    "alias /srv/maskportal/var/staticfiles/;": f"alias {tmp_path / 'static'}/;",
                }
            )
        )
        conf = _nginx_conf(tmp_path, site_conf)
        nginx_log = tmp_path / "nginx-stderr.log"
        command = [NGINX, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"]
        nginx = subprocess.Popen(command, stdout=nginx_log.open("wb"), stderr=subprocess.STDOUT)
        processes.append(nginx)
        wait_for_port(https_port, nginx, nginx_log, timeout=30)
        yield {
            "base": f"https://127.0.0.1:{https_port}",
            "http_port": http_port,
            "cert": cert,
            "access_log": access_log,
            "web_ports": web_ports,
        }
    finally:
        for proc in reversed(processes):
            stop(proc)


def test_the_production_recipe_serves_through_nginx(site, classifier, face_jpeg):  # noqa: F811
    user = UserFactory()
    # Production settings check passwords with PBKDF2 (the test settings hash with MD5).
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, uuid.uuid4().hex[:16], iterations=1000)
    user.save(update_fields=["password"])
    base, cafile = site["base"], site["cert"]
    context = ssl.create_default_context(cafile=str(cafile))

    # Plain HTTP is sent to HTTPS; oversize bodies are refused by nginx before anything is uploaded.
    plain = http.client.HTTPConnection("127.0.0.1", site["http_port"], timeout=30)
    plain.request("GET", "/accounts/login/")
    assert plain.getresponse().status == 301
    capped = http.client.HTTPSConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), context=context, timeout=30)
    capped.putrequest("POST", "/api/v1/analyze/")
    capped.putheader("Content-Length", str(300 * 2**20))
    capped.endheaders()
    assert capped.getresponse().status == 413

    browser = Browser(base, cafile)
    browser.login(user.username, PASSWORD)
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', browser.page.text).group(1)  # hashed by collectstatic
    css = browser.http.get(base + stylesheet)
    assert css.status_code == 200 and "immutable" in css.headers.get("Cache-Control", "")

    async def scenario() -> tuple[set[int], list[int], dict]:
        received: set[int] = set()
        async with browser.socket("/ws/notifications/", context) as dashboard:
            async with browser.socket("/ws/live/", context) as live:
                await live.send(face_jpeg)
                while (frame := json.loads(await asyncio.wait_for(live.recv(), 120)))["type"] not in ("frame", "error"):
                    pass
                assert frame["type"] == "frame", frame
            uploads = []
            for _ in range(6):  # nginx alternates between the two processes: both serve an upload
                uploads.append(await asyncio.to_thread(browser.upload, face_jpeg))
                if len(set(_upstreams(site["access_log"], "POST /api/v1/analyze/"))) == 2:
                    break
            while not set(uploads) <= received:
                msg = json.loads(await asyncio.wait_for(dashboard.recv(), 60))
                if msg["type"] == "detection":
                    received.add(msg["log_id"])
        return received, uploads, frame

    received, uploads, frame = asyncio.run(scenario())
    assert frame["faces"] and frame["width"] == 640
    for _ in range(100):  # a socket is logged once nginx has closed both of its sides
        if sockets := _upstreams(site["access_log"], "GET /ws/notifications/"):
            break
        time.sleep(0.1)
    (dashboard_upstream,) = sockets
    upload_upstreams = _upstreams(site["access_log"], "POST /api/v1/analyze/")
    assert len(upload_upstreams) == len(uploads) and set(upload_upstreams) == {
        f"127.0.0.1:{port}" for port in site["web_ports"]
    }
    across = [
        log_id for log_id, upstream in zip(uploads, upload_upstreams, strict=True) if upstream != dashboard_upstream
    ]
    assert across and set(across) <= received  # made by one web process, delivered by the other
