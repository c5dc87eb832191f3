import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from pcnn_fer.data.images import ImageError, PixelLimitError, load_image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height 1-bit grey pixels (the data stream is just a stub)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


@pytest.fixture
def rgb() -> np.ndarray:
    pixels = np.zeros((6, 10, 3), dtype=np.uint8)
    pixels[:, :, 0] = 200
    pixels[:, :, 1] = np.arange(10, dtype=np.uint8) * 20
    pixels[:, :, 2] = 30
    return pixels


def test_path_bytes_pil_and_array_agree(tmp_path, rgb):
    path = tmp_path / "face.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), path.read_bytes(), Image.fromarray(rgb), rgb):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (6, 10, 3)
        np.testing.assert_array_equal(out, rgb)


def test_bgr_array_is_reordered(rgb):
    np.testing.assert_array_equal(load_image(rgb[:, :, ::-1].copy(), color_order="bgr"), rgb)


def test_grey_arrays_and_images_become_three_equal_channels():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    for source in (grey, grey[:, :, None], Image.fromarray(grey), encoded(Image.fromarray(grey), "PNG")):
        out = load_image(source)
        assert out.shape == (3, 4, 3)
        for channel in range(3):
            np.testing.assert_array_equal(out[:, :, channel], grey)


def test_alpha_is_composited_on_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent: white
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black: mid grey
    for source in (rgba, encoded(Image.fromarray(rgba, "RGBA"), "PNG")):
        out = load_image(source)
        np.testing.assert_array_equal(out[0, 0], (255, 0, 0))
        np.testing.assert_array_equal(out[0, 1], (255, 255, 255))
        assert abs(int(out[1, 0, 0]) - 127) <= 1
    grey_alpha = Image.fromarray(np.array([[[0, 0], [0, 255]]], dtype=np.uint8), "LA")
    np.testing.assert_array_equal(load_image(encoded(grey_alpha, "PNG"))[0], [(255, 255, 255), (0, 0, 0)])


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    grey16 = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    expected = np.array([0, 1, 128, 255], dtype=np.uint8)
    out = load_image(encoded(Image.fromarray(grey16), "PNG"))
    assert Image.open(io.BytesIO(encoded(Image.fromarray(grey16), "PNG"))).mode.startswith("I;16")
    np.testing.assert_array_equal(out[0, :, 0], expected)
    np.testing.assert_array_equal(load_image(grey16)[0, :, 1], expected)
    colour16 = np.zeros((1, 4, 3), dtype=np.uint16)
    colour16[0, :, 2] = grey16[0]  # OpenCV writes BGR: this is the red channel
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), colour16)
    np.testing.assert_array_equal(load_image(path)[0, :, 0], expected)


def test_float_and_wide_integer_arrays():
    np.testing.assert_array_equal(load_image(np.array([[0.0, 1.0]]))[0, :, 0], [0, 255])
    np.testing.assert_array_equal(load_image(np.array([[0, 200]], dtype=np.int64))[0, :, 0], [0, 200])
    np.testing.assert_array_equal(load_image(np.array([[0, 65535]], dtype=np.int32))[0, :, 0], [0, 255])
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.array([[np.nan]]))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((4, 4, 2), dtype=np.uint8))


def test_palette_with_transparency_and_cmyk():
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 255, 10, 20, 30] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    palette.info["transparency"] = 1
    np.testing.assert_array_equal(load_image(encoded(palette, "PNG"))[0], [(0, 0, 255), (255, 255, 255)])
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(encoded(cmyk, "JPEG", quality=95))
    assert out.shape == (4, 4, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 60


def test_exif_orientation_is_applied():
    pixels = np.zeros((4, 8, 3), dtype=np.uint8)  # wide as stored
    pixels[:, :4] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encoded(Image.fromarray(pixels), "JPEG", exif=exif.tobytes(), quality=100)
    out = load_image(data)
    assert out.shape == (8, 4, 3)  # displayed tall
    assert out[0].mean() > 200 and out[-1].mean() < 60  # the white half ends up on top


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg.*0 bytes"):
        load_image(path)


def test_truncated_jpeg(tmp_path, rgb):
    data = encoded(Image.fromarray(np.tile(rgb, (8, 8, 1))), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg.*truncated"):
        load_image(path)


def test_truncated_pil_image_opened_lazily(rgb):
    data = encoded(Image.fromarray(np.tile(rgb, (8, 8, 1))), "JPEG")
    with pytest.raises(ImageError, match="truncated"):
        load_image(Image.open(io.BytesIO(data[: len(data) // 2])))


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.jpg.*not an image"):
        load_image(path)


def test_decompression_bomb_refused_from_the_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(30000, 30000))
    assert path.stat().st_size < 200
    # A PixelLimitError: too large, as a server answers it (413), rather than malformed.
    with pytest.raises(PixelLimitError, match=r"bomb\.png.*(bomb|exceeds)"):
        load_image(path)
    with pytest.raises(PixelLimitError, match="12000 x 12000"):
        load_image(png_claiming(12000, 12000))


def test_pixel_limit_is_configurable(rgb):
    data = encoded(Image.fromarray(rgb), "PNG")
    with pytest.raises(ImageError, match="exceeds the limit of 59"):
        load_image(data, max_pixels=59)
    with pytest.raises(ImageError, match="exceeds"):
        load_image(png_claiming(5000, 5000), max_pixels=1_000_000)
    with pytest.raises(ImageError, match="exceeds"):
        load_image(rgb, max_pixels=10)
    assert load_image(data, max_pixels=60).shape == (6, 10, 3)


def test_animated_gif_refused_still_gif_read():
    frames = [Image.new("RGB", (8, 8), (80 * i, 0, 0)) for i in range(3)]
    with pytest.raises(ImageError, match="3 frames"):
        load_image(encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    assert load_image(encoded(frames[1], "GIF")).shape == (8, 8, 3)


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "absent.jpg")
    with pytest.raises(TypeError):
        load_image(42)
    with pytest.raises(ValueError, match="color_order"):
        load_image(np.zeros((2, 2, 3), np.uint8), color_order="rbg")
