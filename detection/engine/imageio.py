"""Decode untrusted image bytes or files into RGB uint8 arrays, and encode arrays back to files.

Every upload, batch file, CLI path and live frame comes through here, so every way an input can
be bad (empty, truncated, not an image, too large, a decompression bomb) ends in one
`ImageDecodeError` with a message a user can read. Every stored photo, crop and drawing is
written by `encode_image`.
"""

from __future__ import annotations

import io
import warnings
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

#: Default largest accepted image, in pixels (width x height).
DEFAULT_MAX_PIXELS = 50_000_000

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "MPO"})
#: JPEG quality of stored photos, crops and drawings unless a caller asks for another.
JPEG_QUALITY = 88


class ImageDecodeError(ValueError):
    """The input is not an image we can analyse; the message says why."""


def decode_image(
    source: bytes | bytearray | memoryview | str | PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode bytes or a file path to an H x W x 3 RGB uint8 array, EXIF orientation applied.

    Only the first frame of animated images is used. Raises `ImageDecodeError` for any bad input.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except IsADirectoryError as exc:
            raise ImageDecodeError(f"{path} is a directory, not an image file") from exc
        except OSError as exc:
            raise ImageDecodeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise ImageDecodeError("the file is empty")
    return _decode_bytes(data, max_pixels)


def _decode_bytes(data: bytes, max_pixels: int) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow warns (instead of raising) between MAX_IMAGE_PIXELS and twice that; our own
        # limit below decides, so the warning is only noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in SUPPORTED_FORMATS:
                    raise ImageDecodeError(f"unsupported image format {img.format}; use JPEG, PNG, WebP, BMP or GIF")
                width, height = img.size
                if width < 1 or height < 1:
                    raise ImageDecodeError("the image has no pixels")
                if width * height > max_pixels:
                    raise ImageDecodeError(
                        f"the image is too large: {width}x{height} pixels (limit {max_pixels / 1e6:g} megapixels)"
                    )
                img.seek(0)
                img.load()
                rotated = img.getexif().get(ExifTags.Base.Orientation, 1) != 1
                return _to_rgb(ImageOps.exif_transpose(img) if rotated else img)
        except ImageDecodeError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageDecodeError(f"the image is too large (decompression bomb guard): {exc}") from exc
        except UnidentifiedImageError as exc:
            raise ImageDecodeError("the file is not a recognised image") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageDecodeError(f"the image is damaged or truncated: {exc}") from exc


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB; alpha is composited on white, 16-bit scaled to 8-bit."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max() <= 1.0 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def encode_image(image: np.ndarray, fmt: str = "JPEG", *, quality: int = JPEG_QUALITY) -> bytes:
    """An RGB (or grey) uint8 array as the bytes of an image file; `quality` applies to the lossy
    formats (JPEG, WebP) only."""
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()
