"""Draw face records onto their image: box, label, a small probability bar chart, optionally Grad-CAM.

Drawing only reads FaceResult records; it never recomputes anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pcnn_fer.inference.explain import heatmap_to_source
from pcnn_fer.inference.results import FaceResult

BOX_COLOUR = (0, 200, 255)
BAR_COLOUR = (255, 170, 0)
TEXT_COLOUR = (255, 255, 255)
PANEL_COLOUR = (30, 30, 30)


def annotate(image: np.ndarray, faces: Sequence[FaceResult], *, explain: bool = False,
             heat_opacity: float = 0.45) -> np.ndarray:
    """A copy of the RGB uint8 `image` with each face drawn; `explain` overlays the faces' Grad-CAM maps."""
    canvas = np.ascontiguousarray(image.copy())
    faces = [face for face in faces if face.status == "face"]
    if explain:
        canvas = _overlay_heat(canvas, faces, heat_opacity)
    scale = max(0.35, min(canvas.shape[:2]) / 900.0)
    for face in faces:
        _draw_face(canvas, face, scale)
    return canvas


def _overlay_heat(canvas: np.ndarray, faces: Sequence[FaceResult], opacity: float) -> np.ndarray:
    heat = np.zeros(canvas.shape[:2], dtype=np.float32)
    for face in faces:
        if face.heatmap is not None and face.matrix is not None:
            heat = np.maximum(heat, heatmap_to_source(face.heatmap, face.matrix, canvas.shape))
    if not heat.any():
        return canvas
    coloured = cv2.cvtColor(cv2.applyColorMap(np.uint8(heat * 255), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    weight = (heat * opacity)[:, :, None]
    return np.uint8(np.round(canvas * (1.0 - weight) + coloured * weight))


def _draw_face(canvas: np.ndarray, face: FaceResult, scale: float) -> None:
    thickness = max(1, round(2 * scale))
    x0, y0, x1, y1 = (round(v) for v in face.box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_COLOUR, thickness)
    if face.landmarks is not None:
        for x, y in face.landmarks:
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(canvas, (round(x), round(y)), thickness + 1, BOX_COLOUR, -1)
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale * 1.4
    title = f"{face.label} {face.confidence:.2f}"
    (width, height), base = cv2.getTextSize(title, font, font_scale, thickness)
    top = max(0, y0 - height - base - 4)
    cv2.rectangle(canvas, (x0, top), (x0 + width + 4, top + height + base + 4), BOX_COLOUR, -1)
    cv2.putText(canvas, title, (x0 + 2, top + height + 2), font, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    _draw_bars(canvas, face, (x1 + 4, y0), font, font_scale * 0.8, max(1, thickness - 1))


def _draw_bars(canvas: np.ndarray, face: FaceResult, origin: tuple[int, int], font: int, font_scale: float,
               thickness: int) -> None:
    """One row per class: its name and a bar as long as its probability."""
    names = list(face.probabilities)
    (text_width, row), _ = cv2.getTextSize(max(names, key=len), font, font_scale, thickness)
    row += 4
    bar_length = 3 * row
    width, height = text_width + bar_length + 8, row * len(names) + 4
    x, y = origin
    # Keep the chart inside the image: move it left of the box's right edge when it would spill over.
    x = min(x, canvas.shape[1] - width - 1)
    y = min(max(0, y), max(0, canvas.shape[0] - height - 1))
    if x < 0:
        return
    panel = canvas[y:y + height, x:x + width]
    panel[:] = (panel * 0.35 + np.array(PANEL_COLOUR) * 0.65).astype(np.uint8)
    for i, name in enumerate(names):
        baseline = y + (i + 1) * row
        cv2.putText(canvas, name, (x + 2, baseline - 2), font, font_scale, TEXT_COLOUR, thickness, cv2.LINE_AA)
        length = round(bar_length * face.probabilities[name])
        bar_x = x + text_width + 6
        colour = BOX_COLOUR if name == face.label else BAR_COLOUR
        cv2.rectangle(canvas, (bar_x, baseline - row + 4), (bar_x + max(1, length), baseline - 2), colour, -1)
