"""From uploaded bytes to the JSON answer of one image: decode within the pixel cap, then records, size,
timings and, when asked, the Grad-CAM layer and the annotated image (base64)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np

from pcnn_fer.data.images import ImageError, PixelLimitError, load_image
from pcnn_fer.inference.draw import annotate, heat_layer
from pcnn_fer.inference.results import failed
from pcnn_fer.serve.batching import BatchAnswer
from pcnn_fer.serve.errors import ApiError
from pcnn_fer.serve.uploads import Upload


@dataclass(frozen=True)
class AnalyzeOptions:
    """What a client may ask of /v1/analyze and /v1/analyze/batch."""

    flip_tta: bool = False  # average each face with its mirror image
    explain: bool = False  # add the Grad-CAM layer (organ contributions are always in the records)
    annotate: bool = False  # add the image with every face drawn on it, as `pcnn-fer predict --annotate` draws
    min_score: float = 0.0  # leave out faces the detector scored below this, before the model


def decode_upload(upload: Upload, max_pixels: int) -> np.ndarray:
    """The upload's RGB pixels; 413 over the pixel cap, 422 when it is not a readable image."""
    try:
        return load_image(upload.data, max_pixels=max_pixels)
    except ImageError as error:
        message = str(error).replace("<bytes>", upload.name, 1)
        if isinstance(error, PixelLimitError):
            raise ApiError(413, "too_many_pixels", message) from error
        raise ApiError(422, "bad_image", message) from error


def image_answer(upload: Upload, image: np.ndarray, answer: BatchAnswer, options: AnalyzeOptions,
                 decode_s: float) -> dict:
    """The JSON answer for one image: `pcnn-fer predict`'s records of its faces, its size and timings."""
    faces = [face for face in answer.faces if face.is_face]  # min_score left the others out before the model
    height, width = image.shape[:2]
    result = {"input": upload.name, "width": width, "height": height,
              "faces": [face.to_dict() for face in faces],
              "timings_ms": {"decode": _ms(decode_s), "detect": _ms(answer.detect_s), "queue": _ms(answer.queued_s),
                             "model": _ms(answer.model_s)},
              "batch_size": answer.batch_size}
    if options.explain:
        result["heatmap_png"] = _png_base64(heat_layer(image.shape, faces))
    if options.annotate:
        result["annotated_jpeg"] = _jpeg_base64(annotate(image, faces, explain=options.explain))
    return result


def detection_error(answer: BatchAnswer) -> ApiError | None:
    """The error of an image whose faces could not be searched (its one record is an error), else None."""
    faces = answer.faces
    if failed(faces):
        return ApiError(422, "detection_failed", str(faces[0].error))
    return None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _png_base64(rgba: np.ndarray) -> str:
    _, encoded = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def _jpeg_base64(rgb: np.ndarray) -> str:
    _, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return base64.b64encode(encoded.tobytes()).decode("ascii")
