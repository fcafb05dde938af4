"""Turn uploaded files (images or ZIP archives) into items to analyse, each with a clear reason
when it cannot be: checked before anything is stored, so a bad file never leaves a half-written row.

Only cheap checks happen here (size, archive safety, image header and pixel count); the full
decode in the engine catches what is left (truncated data) and fails that item alone.
"""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from detection.engine.imageio import SUPPORTED_FORMATS

logger = logging.getLogger(__name__)

#: Larger expansion ratios than this inside a ZIP are treated as a decompression bomb.
MAX_ZIP_RATIO = 200
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: An uploaded archive may be this many times the size of one photo.
ARCHIVE_FILES = 10


class UploadError(ValueError):
    """The upload as a whole is refused; the message says why."""


@dataclass
class UploadItem:
    """One image to analyse (`data`) or one that cannot be (`error`)."""

    name: str
    data: bytes | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def size_problem(size: int | None, limit: int | None = None) -> str:
    """Why a file of `size` bytes is refused ("" when it is not): the one size check of every upload
    path (analysis, batches, the registry's pages and API, imports). `limit` defaults to MAX_UPLOAD_BYTES."""
    limit = settings.MAX_UPLOAD_BYTES if limit is None else limit
    if size == 0:
        return "the file is empty"
    if size is not None and size > limit:
        return f"the file is too large ({_mb(size)}; limit {_mb(limit)})"
    return ""


def archive_size_problem(size: int | None) -> str:
    """Why an uploaded archive of `size` bytes is refused ("" when it is not): it may hold
    ARCHIVE_FILES photos' worth."""
    return size_problem(size, limit=settings.MAX_UPLOAD_BYTES * ARCHIVE_FILES)


def image_problem(data: bytes) -> str:
    """Why `data` is not an acceptable image file ("" when the header looks fine)."""
    if reason := size_problem(len(data)):
        return reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
        except Image.DecompressionBombError:
            return "the image is too large (decompression bomb guard)"
        except UnidentifiedImageError:
            return "the file is not a recognised image"
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            return f"the image is damaged or truncated: {exc}"
    if fmt not in SUPPORTED_FORMATS:
        return f"unsupported image format {fmt}; use JPEG, PNG, WebP, BMP or GIF"
    if width * height > settings.MAX_IMAGE_PIXELS:
        return f"the image is too large: {width}x{height} pixels (limit {settings.MAX_IMAGE_PIXELS / 1e6:g} megapixels)"
    return ""


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unsafe_member(name: str) -> str:
    """Why an archive member's path is unsafe ("" when it is not): absolute, a drive, or `..`."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        return "unsafe path: absolute paths are not allowed in a ZIP archive"
    if ".." in path.parts:
        return "unsafe path: '..' is not allowed in a ZIP archive"
    return ""


def expand_zip(name: str, data: bytes) -> Iterator[UploadItem]:
    """The members of an archive, one at a time (their total may be large); raises UploadError,
    before the first item, when the archive as a whole is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UploadError(f"{name}: the ZIP archive is damaged ({exc})") from exc
    try:
        members = zip_files(archive)
    except UploadError as exc:
        raise UploadError(f"{name}: {exc}") from exc
    if not members:
        raise UploadError(f"{name}: the ZIP archive contains no files")
    with archive:
        for member in members:
            yield UploadItem(f"{name}/{member.filename}", *_read_member(archive, member))


def archiver_metadata(filename: str) -> bool:
    """Metadata that archivers add (macOS resource forks, hidden files) is not a user's photo."""
    parts = PurePosixPath(filename.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") and p not in (".", "..") for p in parts)


def zip_files(archive: zipfile.ZipFile, *, metadata: bool = False) -> list[zipfile.ZipInfo]:
    """The files of an archive (no folders), in archive order: the one way every ZIP upload (batches,
    registry imports, the training pool) lists its members. Archiver metadata is left out unless
    `metadata` (to report it as skipped); read each member with `read_member`, which refuses unsafe
    paths. Raises UploadError when the archive holds more than MAX_ZIP_MEMBERS other files."""
    files = [member for member in archive.infolist() if not member.is_dir()]
    wanted = [member for member in files if not archiver_metadata(member.filename)]
    if len(wanted) > settings.MAX_ZIP_MEMBERS:
        raise UploadError(f"the ZIP archive has {len(wanted)} files (limit {settings.MAX_ZIP_MEMBERS})")
    return files if metadata else wanted


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """The bytes of one archive member within the upload limit; raises UploadError with the reason
    (unsafe path, too large, a decompression bomb, damaged)."""
    reason = unsafe_member(member.filename) or size_problem(member.file_size)
    expands = member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO
    if not reason and expands and member.file_size > 1 << 20:
        reason = "the file expands suspiciously (decompression bomb guard)"
    if reason:
        raise UploadError(reason)
    limit = settings.MAX_UPLOAD_BYTES
    try:
        with archive.open(member) as handle:
            data = handle.read(limit + 1)  # the header's size can lie: never read past the limit
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise UploadError(f"the archive member is damaged ({exc})") from exc
    if len(data) > limit:
        raise UploadError(f"the file is too large (limit {_mb(limit)})")
    return data


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[bytes | None, str]:
    if reason := unsafe_member(member.filename):
        return None, reason
    if member.filename.lower().endswith(".zip"):
        return None, "nested ZIP archives are not supported"
    try:
        data = read_member(archive, member)
    except UploadError as exc:
        return None, str(exc)
    if is_zip(data):
        return None, "nested ZIP archives are not supported"
    reason = image_problem(data)
    return (None, reason) if reason else (data, "")


def read_upload(uploaded) -> bytes:
    """The bytes of one uploaded file, refusing empty and oversize files before reading them all."""
    if reason := size_problem(getattr(uploaded, "size", None)):
        raise UploadError(f"{uploaded.name}: {reason}")
    uploaded.seek(0)
    data = uploaded.read(settings.MAX_UPLOAD_BYTES + 1)
    if not data:
        raise UploadError(f"{uploaded.name}: the file is empty")
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise UploadError(f"{uploaded.name}: the file is too large (limit {_mb(settings.MAX_UPLOAD_BYTES)})")
    return data


def expand_uploads(files) -> Iterator[UploadItem]:
    """Every uploaded file, ZIPs expanded, as items; a refused ZIP becomes one failed item."""
    for uploaded in files:
        for item in _expand_one(uploaded):
            if item.error:
                logger.info("refused upload item %s: %s", item.name, item.error)
            yield item


def _expand_one(uploaded) -> Iterator[UploadItem]:
    name = PurePosixPath(str(uploaded.name).replace("\\", "/")).name or "upload"
    try:
        data = read_upload(uploaded)
        if is_zip(data):
            yield from expand_zip(name, data)
            return
    except UploadError as exc:
        yield UploadItem(name, error=str(exc).split(": ", 1)[-1])
        return
    reason = image_problem(data)
    yield UploadItem(name, None if reason else data, reason)
