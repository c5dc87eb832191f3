"""Decode any image a user may hand us into one form: RGB uint8 (H, W, 3), upright, or a clear ImageError.

Decisions:
- EXIF orientation is applied, so phone photos come out upright.
- Transparency is composited on white: faces cut out of their background (RGBA PNG) are then seen on a
  plain light background instead of whatever colour the hidden pixels happen to hold.
- 16-bit images are scaled to 8 bits (65535 -> 255), never clipped. Wider integer types (Pillow's "I"
  mode, int32/int64 arrays) are read as 8-bit when every value fits in 0-255, else as 16-bit; float images
  are taken as [0, 1] when they fit there, else scaled like 16-bit ones.
- The pixel count is read from the header and checked against `max_pixels` before anything is decoded,
  so a tiny file claiming 30000 x 30000 pixels costs nothing. Pillow's own bomb limit (twice
  Image.MAX_IMAGE_PIXELS) applies as well.
- Images with several frames (animated GIF/PNG/WebP, multi-page TIFF) are refused: which frame holds the
  face is not ours to guess. MPO files (camera JPEGs carrying a second, preview picture) are the exception:
  their first frame is the photo.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# IMAGE_SUFFIXES is re-exported: the dataset readers take it from here, beside the decoder.
from pcnn_fer.data.formats import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES  # noqa: F401

ImageSource = str | Path | bytes | Image.Image | np.ndarray


class ImageError(ValueError):
    """An input that cannot be decoded into an image, with its name and the reason."""


class PixelLimitError(ImageError):
    """An image with more pixels than the decoder accepts: too large rather than malformed."""


def load_image(source: ImageSource, *, color_order: str = "rgb", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode `source` (path, encoded bytes, PIL image or pixel array) into an upright RGB uint8 (H, W, 3) array.

    color_order applies to 3- and 4-channel numpy arrays only ("rgb" or "bgr", e.g. OpenCV frames).
    """
    if color_order not in ("rgb", "bgr"):
        raise ValueError(f"color_order must be 'rgb' or 'bgr', got {color_order!r}")
    if isinstance(source, np.ndarray):
        return _from_array(source, color_order, max_pixels, "<array>")
    if isinstance(source, Image.Image):
        name = getattr(source, "filename", "") or "<PIL image>"
        _check_pixels(source.size, max_pixels, name)
        try:
            source.load()  # a lazily opened image may still be undecoded, and truncated
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(f"{name}: corrupt or truncated image data ({error})") from error
        return _from_pil(source, name)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(bytes(source)), len(source), "<bytes>", max_pixels)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
        with open(path, "rb") as handle:
            return _decode(handle, path.stat().st_size, str(path), max_pixels)
    raise TypeError(f"cannot read an image from {type(source).__name__}; expected a path, bytes, "
                    f"a PIL image or a numpy array")


def _decode(stream, size: int, name: str, max_pixels: int) -> np.ndarray:
    if size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Our own limit is checked right below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except Image.DecompressionBombError as error:
        raise PixelLimitError(f"{name}: refused as a decompression bomb ({error})") from error
    except UnidentifiedImageError as cause:
        raise ImageError(f"{name}: not an image file in any format Pillow reads") from cause
    except OSError as error:
        raise ImageError(f"{name}: unreadable ({error})") from error
    with image:
        _check_pixels(image.size, max_pixels, name)
        frames = getattr(image, "n_frames", 1)
        if frames > 1 and image.format != "MPO":
            raise ImageError(f"{name}: {image.format} image with {frames} frames; expected a still image "
                             f"(extract the frame you want first)")
        try:
            image.load()  # force a full decode, so truncation surfaces here and not later
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(f"{name}: corrupt or truncated {image.format or ''} data ({error})") from error
        return _from_pil(image, name)


def _check_pixels(size: tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: image has no pixels ({width} x {height})")
    if width * height > max_pixels:
        raise PixelLimitError(f"{name}: {width} x {height} = {width * height:,} pixels exceeds the limit of "
                         f"{max_pixels:,} (a decompression bomb, or raise max_pixels)")


def _from_pil(image: Image.Image, name: str) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image)
    except Exception as error:  # a malformed EXIF block must not lose the picture
        warnings.warn(f"{name}: ignoring unreadable EXIF orientation ({error})", stacklevel=3)
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _from_array(np.asarray(image), "rgb", None, name)
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        return _on_white(np.asarray(image.convert("RGBA")))
    try:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as error:
        raise ImageError(f"{name}: cannot convert {mode} image to RGB ({error})") from error


def _from_array(array: np.ndarray, color_order: str, max_pixels: int | None, name: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: pixel array of shape {array.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    if max_pixels is not None:
        _check_pixels((array.shape[1], array.shape[0]), max_pixels, name)
    array = _to_uint8(array, name)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if color_order == "bgr":
        array = array[:, :, [2, 1, 0, 3][: array.shape[2]]]
    if array.shape[2] == 4:
        return _on_white(array)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """Scale integer and float pixel arrays into 0-255 without clipping the range they were written in."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.unsignedinteger) and array.dtype.itemsize == 2:
        return _scale16(array)
    if np.issubdtype(array.dtype, np.integer):
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0 or high > 65535:
            raise ImageError(f"{name}: {array.dtype} pixels outside 0..65535; expected 8- or 16-bit values")
        # A wide integer type says nothing of the bit depth; values above 255 mean 16-bit data.
        return array.astype(np.uint8) if high <= 255 else _scale16(array)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{name}: float pixels contain NaN or infinity")
        low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 1.0)
        if low >= 0.0 and high <= 1.0:
            return np.round(array * 255.0).astype(np.uint8)
        if low >= 0.0 and high <= 65535.0:
            return _scale16(array)
        raise ImageError(f"{name}: float pixels in [{low:g}, {high:g}]; expected [0, 1] or 0..65535")
    raise ImageError(f"{name}: unsupported pixel type {array.dtype}")


def _scale16(array: np.ndarray) -> np.ndarray:
    # 65535 / 257 == 255 exactly: the full 16-bit range maps onto the full 8-bit range.
    return np.round(array.astype(np.float64) / 257.0).astype(np.uint8)


def _on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32)
    return np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
