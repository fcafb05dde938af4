"""The files an analysis stores: the photo as the platform keeps it (original less its metadata, a
downscaled JPEG, or nothing) and the face crops, written so a failed analysis leaves none behind.

Files are not transactional, so the ones written inside a `files_rolled_back()` block are deleted
when the block raises (callers that add their own rows to the same transaction, like the batch
runner, open the block around both).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from detection.engine.imageio import encode_image
from detection.models import PlatformSettings

logger = logging.getLogger(__name__)

#: Longest side of the stored copy when PlatformSettings.store_images is "downscaled".
DOWNSCALED_SIDE = 1280
#: Side of the stored face crop (thumbnails, review, training corrections).
CROP_SIDE = 160
#: Image metadata that may describe a person or a place (EXIF holds GPS positions and camera serials).
METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "photoshop", "comment", "Raw profile type exif")
#: Pillow format -> (format to write a re-encoded copy in, file extension).
STORED_FORMATS = {"PNG": ("PNG", "png"), "WEBP": ("WEBP", "webp"), "GIF": ("PNG", "png")}

_written: ContextVar[list[str] | None] = ContextVar("analysis_written_files", default=None)


@contextmanager
def files_rolled_back() -> Iterator[None]:
    """Delete the files stored inside the block when it raises; nested blocks hand theirs up."""
    parent = _written.get()
    mine: list[str] = []
    token = _written.set(mine)
    try:
        yield
    except BaseException:
        for name in mine:
            try:
                default_storage.delete(name)
            except OSError:
                logger.exception("could not delete %s after a failed analysis", name)
        raise
    finally:
        _written.reset(token)
    if parent is not None:
        parent.extend(mine)


def save_file(field_file, name: str, content: bytes) -> None:
    field_file.save(name, ContentFile(content), save=False)
    written = _written.get()
    if written is not None:
        written.append(field_file.name)


def _without_metadata(data: bytes, image: np.ndarray) -> tuple[bytes, str]:
    """The uploaded file to store as its original: byte for byte when it carries no metadata, else
    re-encoded from the decoded pixels (EXIF orientation already applied), so no EXIF, XMP or
    comment (a GPS position, a device serial) is ever stored or served."""
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format or "JPEG"
        text = getattr(img, "text", None) or {}  # PNG tEXt/iTXt chunks
        carries = bool(img.getexif()) or bool(text) or any(key in img.info for key in METADATA_KEYS)
    if not carries:
        return data, fmt.lower().replace("jpeg", "jpg")
    out_format, ext = STORED_FORMATS.get(fmt, ("JPEG", "jpg"))
    return encode_image(image, out_format, quality=95), ext


def stored_image(image: np.ndarray, data: bytes | None, store: str) -> tuple[bytes, str] | None:
    """The bytes to keep and their extension: the file as uploaded (without its metadata), or a JPEG
    within DOWNSCALED_SIDE."""
    if store == PlatformSettings.StoreImages.NONE:
        return None
    h, w = image.shape[:2]
    is_jpeg = data is not None and data[:3] == b"\xff\xd8\xff"
    if store == PlatformSettings.StoreImages.ORIGINAL and data is not None:
        return _without_metadata(data, image)
    scale = DOWNSCALED_SIDE / max(h, w)
    if scale >= 1.0 or store == PlatformSettings.StoreImages.ORIGINAL:
        # a small JPEG is kept as it came (no second lossy encode), less its metadata
        return _without_metadata(data, image) if data is not None and is_jpeg else (encode_image(image), "jpg")
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
    return encode_image(np.asarray(small)), "jpg"
