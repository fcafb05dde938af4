"""Secrets and biometric data on disk are readable by the platform's user only (0600, folders 0700)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command

from tests.conftest import REPO


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_install_keeps_its_secret_database_and_media_private(tmp_path):
    """Settings loaded on an empty var/ folder (what `make run` does first), with a permissive umask."""
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT")}
    env |= {"MASKPORTAL_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "maskportal.settings.development"}
    code = "import os; os.umask(0o022); import django; django.setup()"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, timeout=120)
    assert _mode(var / "secret_key") == 0o600
    assert _mode(var / "db.sqlite3") == 0o600
    assert _mode(var / "media") == 0o700


def test_an_existing_world_readable_database_is_narrowed(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    (var / "db.sqlite3").write_bytes(b"")
    (var / "db.sqlite3").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")}
    env |= {"MASKPORTAL_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "maskportal.settings.development"}
    subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=REPO, env=env, check=True, timeout=120)
    assert _mode(var / "db.sqlite3") == 0o600


def test_face_photos_are_stored_private(settings, tmp_path):
    storage = FileSystemStorage(location=tmp_path / "media")
    name = storage.save("faces/2026/01/crop.jpg", ContentFile(b"\xff\xd8\xff"))
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o600 and settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700
    assert _mode(Path(storage.path(name))) == 0o600
    assert _mode(Path(storage.path("faces/2026"))) == 0o700


def test_the_first_admin_file_is_private(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.FIRST_ADMIN_PASSWORD = ""
    call_command("ensure_admin", stdout=io.StringIO())
    assert _mode(tmp_path / "first_admin.txt") == 0o600
