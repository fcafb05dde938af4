"""Image decoding: every supported format and mode, EXIF orientation, and every kind of bad input."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from detection.engine.imageio import ImageDecodeError, decode_image, encode_image


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo(astronaut) -> Image.Image:
    return Image.fromarray(astronaut[::4, ::4])  # 128 x 128


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_formats_decode_to_rgb_uint8(photo, fmt):
    out = decode_image(encode(photo, fmt))
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - np.asarray(photo, dtype=int)).mean() < 20


def test_gif_first_frame_is_used():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = decode_image(data)
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 20))  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = decode_image(encode(img, "JPEG", exif=exif))
    assert out.shape == (40, 20, 3)
    assert out[5, 10].mean() > 200 and out[35, 10].mean() < 50  # white is now the top half


@pytest.mark.parametrize(
    ("mode", "value"),
    [("RGBA", (255, 0, 0, 255)), ("LA", (128, 255)), ("P", None), ("CMYK", (0, 255, 255, 0)), ("L", 77)],
)
def test_modes_are_converted_to_rgb(mode, value):
    img = Image.new("RGB", (6, 6), (255, 0, 0)).convert("P") if mode == "P" else Image.new(mode, (6, 6), value)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = decode_image(encode(img, fmt))
    assert out.shape == (6, 6, 3) and out.dtype == np.uint8
    if mode in ("RGBA", "P", "CMYK"):
        assert out[0, 0, 0] > 200 and out[0, 0, 1] < 60
    if mode == "LA":
        assert abs(int(out[0, 0, 0]) - 128) <= 2


def test_transparent_pixels_become_white():
    out = decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))
    assert out.min() == 255


def test_sixteen_bit_grayscale_is_scaled():
    img = Image.fromarray(np.full((5, 5), 65535 // 2, dtype=np.uint16))
    assert img.mode.startswith("I;16")
    out = decode_image(encode(img, "PNG"))
    assert out.shape == (5, 5, 3) and abs(int(out[0, 0, 0]) - 128) <= 2


def test_path_input(tmp_path, photo):
    path = tmp_path / "p.png"
    photo.save(path)
    assert decode_image(path).shape == (128, 128, 3)
    assert decode_image(str(path)).shape == (128, 128, 3)


def test_pixel_limit(photo):
    with pytest.raises(ImageDecodeError, match="too large"):
        decode_image(encode(photo, "PNG"), max_pixels=100 * 100)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` one-bit pixels and holds no pixel data: a few dozen
    bytes that would inflate to gigabytes if a decoder trusted the header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused():
    """Pillow's own guard holds even where our pixel limit is lifted (and no global is patched:
    a patched Pillow limit would leak to whatever else runs in the process meanwhile)."""
    assert 2 * Image.MAX_IMAGE_PIXELS < 20_000 * 10_000
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(png_header_only(20_000, 10_000), max_pixels=10**12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is not an image at all", "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "damaged|not a recognised"),
    ],
)
def test_bad_bytes(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(data)


def test_truncated_jpeg(photo):
    data = encode(photo, "JPEG")
    with pytest.raises(ImageDecodeError, match="damaged or truncated"):
        decode_image(data[: len(data) // 2])


def test_unsupported_format(photo):
    with pytest.raises(ImageDecodeError, match="unsupported image format TIFF"):
        decode_image(encode(photo, "TIFF"))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read"):
        decode_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageDecodeError, match="directory"):
        decode_image(tmp_path)


def test_error_is_a_value_error():
    assert issubclass(ImageDecodeError, ValueError)


def test_encode_image_round_trips(photo):
    """The one encoder of stored photos and crops: PNG is exact, JPEG close and smaller at lower quality."""
    pixels = np.asarray(photo)
    assert np.array_equal(decode_image(encode_image(pixels, "PNG")), pixels)
    fine, coarse = encode_image(pixels, quality=95), encode_image(pixels, quality=40)
    assert fine[:3] == b"\xff\xd8\xff" and len(coarse) < len(fine)
    assert np.abs(decode_image(fine).astype(int) - pixels.astype(int)).mean() < 5
