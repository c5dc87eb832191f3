"""Draw face records onto their image: box, label, a probability panel (with organ shares), optionally Grad-CAM.

Drawing only reads FaceResult records; it never recomputes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from pcnn_fer.atomic import atomic_path
from pcnn_fer.inference.explain import heatmap_to_source
from pcnn_fer.inference.results import FaceResult

BOX_COLOUR = (0, 200, 255)
BAR_COLOUR = (255, 170, 0)
ORGAN_COLOUR = (120, 220, 120)
MARK_COLOUR = (170, 170, 170)
TEXT_COLOUR = (255, 255, 255)
PANEL_COLOUR = (30, 30, 30)
FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_TEXT_PX = 12  # cap height of a text line: readable on a 640x360 video frame
HEAT_FLOOR = 0.2  # Grad-CAM below this share of its peak is background and stays uncoloured
# Suffixes an annotated photo keeps (Pillow writes them from RGB), with the format Pillow writes; others become PNG.
PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}
PAD, GAP = 3, 4  # pixels inside a panel's border / between a panel's columns and around a face
_UNIT_TEXT_PX = cv2.getTextSize("Ag", FONT, 1.0, 1)[0][1]

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels; x1 and y1 excluded


@dataclass(frozen=True)
class Style:
    """Sizes for one image, so text never shrinks below MIN_TEXT_PX yet grows with larger images."""

    font_scale: float
    stroke: int  # text thickness
    line: int  # box and landmark thickness
    text_px: int  # cap height of one text line
    row: int  # height of one panel row, descenders included


def text_style(image_shape: tuple[int, ...]) -> Style:
    """The Style for an image of `image_shape`."""
    side = min(image_shape[:2])
    target = max(MIN_TEXT_PX, side / 60)
    font_scale, stroke = target / _UNIT_TEXT_PX, max(1, round(target / 16))
    (_, height), baseline = cv2.getTextSize("Ag", FONT, font_scale, stroke)
    return Style(font_scale, stroke, max(1, round(side / 450)), height, height + baseline + 1)


@dataclass(frozen=True)
class _Row:
    """One panel row: a heading when `value` is None, else a labelled bar with its value written beside it."""

    text: str
    value: float | None = None
    colour: tuple[int, int, int] = BAR_COLOUR
    mark: float | None = None  # a reference tick on the bar, e.g. the average organ's share


class _Plan(NamedTuple):
    style: Style
    rows: list[list[_Row]]
    footprints: list[Rect]
    panels: list[Rect]


def annotate(image: np.ndarray, faces: Sequence[FaceResult], *, explain: bool = False,
             heat_opacity: float = 0.45) -> np.ndarray:
    """A copy of the RGB uint8 `image` with each face drawn; `explain` overlays the faces' Grad-CAM maps."""
    canvas = np.ascontiguousarray(image.copy())
    faces = [face for face in faces if face.status == "face"]
    plan = _plan(canvas.shape, faces, explain)
    if explain and _overlay_heat(canvas, faces, heat_opacity):
        size = _heat_scale_size(plan.style)
        height, width = canvas.shape[:2]
        corners = [(width - size[0] - GAP, height - size[1] - GAP), (width - size[0] - GAP, GAP),
                   (GAP, height - size[1] - GAP), (GAP, GAP)]
        _draw_heat_scale(canvas, _least_covering(corners, size, [*plan.footprints, *plan.panels], canvas.shape),
                         plan.style)
    for face, rows, footprint, panel in zip(faces, plan.rows, plan.footprints, plan.panels):
        _draw_face(canvas, face, plan.style)
        _draw_panel(canvas, rows, panel, plan.style)
        _draw_leader(canvas, footprint, panel, plan.style)
    return canvas


def panel_rects(image_shape: tuple[int, ...], faces: Sequence[FaceResult], *, explain: bool = False) -> list[Rect]:
    """Where `annotate` puts the panel of each face record that has a face, in their order."""
    return _plan(image_shape, [face for face in faces if face.status == "face"], explain).panels


def place_panels(footprints: Sequence[Rect], sizes: Sequence[tuple[int, int]], image_shape: tuple[int, ...],
                 gap: int = GAP) -> list[Rect]:
    """Each face's (width, height) panel beside its footprint, covering no face and no other panel if it can.

    Candidates lie right of, left of, below and above the face (also slid along that side to clear the faces
    and panels in the way), then in the image's corners, each moved inside the image. The nearest free one
    wins, the earlier on ties; when none is free, the one covering least of other faces and panels, then of
    its own face. Faces are placed one by one, in order and in reverse, keeping the layout that covers less:
    the first face placed can take the one spot a later face needed.
    """
    orders = (range(len(footprints)), range(len(footprints))[::-1])
    return min((_place_in_order(footprints, sizes, image_shape, gap, order) for order in orders),
               key=lambda layout: layout[1])[0]


def _place_in_order(footprints: Sequence[Rect], sizes: Sequence[tuple[int, int]], image_shape: tuple[int, ...],
                    gap: int, order: Sequence[int]) -> tuple[list[Rect], tuple[int, int]]:
    """The panels placed greedily in `order`, with the pixels they cover: of other faces and panels, of their own."""
    panels: dict[int, Rect] = {}
    covered = own_covered = 0
    for i in order:
        obstacles = [*(f for j, f in enumerate(footprints) if j != i), *panels.values()]
        spots = _spots(footprints[i], sizes[i], [*obstacles, footprints[i]], image_shape, gap)
        panels[i] = _least_covering(spots, sizes[i], obstacles, image_shape, own=footprints[i])
        covered += _cover(panels[i], obstacles)
        own_covered += _overlap(panels[i], footprints[i])
    return [panels[i] for i in range(len(footprints))], (covered, own_covered)


def _spots(footprint: Rect, size: tuple[int, int], obstacles: Sequence[Rect], image_shape: tuple[int, ...],
           gap: int) -> list[tuple[int, int]]:
    """Top-left corners to try for a panel of `size`: beside the face, aligned with it or flush with an obstacle."""
    x0, y0, x1, y1 = footprint
    (w, h), (height, width) = size, image_shape[:2]
    xs = [x0, x1 - w, *(o[2] + gap for o in obstacles), *(o[0] - gap - w for o in obstacles)]
    ys = [y0, y1 - h, *(o[3] + gap for o in obstacles), *(o[1] - gap - h for o in obstacles)]
    return [*((x1 + gap, y) for y in ys), *((x0 - gap - w, y) for y in ys), *((x, y1 + gap) for x in xs),
            *((x, y0 - gap - h) for x in xs), (width - w, 0), (0, 0), (0, height - h), (width - w, height - h)]


def _least_covering(spots: Sequence[tuple[int, int]], size: tuple[int, int], obstacles: Sequence[Rect],
                    image_shape: tuple[int, ...], own: Rect | None = None) -> Rect:
    """The spot (moved inside the image) covering least of `obstacles`, then least of `own`, then nearest to it.

    min() keeps the first of equal keys, so of equally good spots the earlier in the list wins.
    """
    height, width = image_shape[:2]
    w, h = size
    rects = [(x, y, x + w, y + h) for x, y in
             ((min(max(0, x), max(0, width - w)), min(max(0, y), max(0, height - h))) for x, y in spots)]
    if own is None:
        return min(rects, key=lambda rect: _cover(rect, obstacles))
    return min(rects, key=lambda rect: (_cover(rect, obstacles), _overlap(rect, own), _distance(rect, own)))


def _cover(rect: Rect, others: Sequence[Rect]) -> int:
    return sum(_overlap(rect, other) for other in others)


def _distance(a: Rect, b: Rect) -> int:
    """Pixels between two rectangles, across plus down; 0 when they touch or overlap."""
    return max(0, a[0] - b[2], b[0] - a[2]) + max(0, a[1] - b[3], b[1] - a[3])


def _overlap(a: Rect, b: Rect) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _plan(image_shape: tuple[int, ...], faces: Sequence[FaceResult], explain: bool) -> _Plan:
    style = text_style(image_shape)
    rows = [_panel_rows(face, explain and face.heatmap is not None and face.matrix is not None) for face in faces]
    footprints = [_footprint(face, style) for face in faces]
    return _Plan(style, rows, footprints, place_panels(footprints, [_panel_size(r, style) for r in rows],
                                                       image_shape))


def _panel_rows(face: FaceResult, explained: bool) -> list[_Row]:
    """The Grad-CAM title when explained, a bar per class, then a bar per organ when the record has shares."""
    rows = [_Row(f"Grad-CAM: {face.label}")] if explained else []
    rows += [_Row(name, p, BOX_COLOUR if name == face.label else BAR_COLOUR) for name, p in face.probabilities.items()]
    if face.organ_contributions:
        average = 1.0 / len(face.organ_contributions)
        rows.append(_Row("organ share"))
        rows += [_Row(organ.replace("left_", "L ").replace("right_", "R "), share, ORGAN_COLOUR, average)
                 for organ, share in face.organ_contributions.items()]
    return rows


def _text_width(text: str, style: Style) -> int:
    return cv2.getTextSize(text, FONT, style.font_scale, style.stroke)[0][0]


def _columns(rows: Sequence[_Row], style: Style) -> tuple[int, int, int]:
    """Widths of the bar rows' name, bar and value columns."""
    names = [_text_width(row.text, style) for row in rows if row.value is not None]
    return max(names, default=0), 5 * style.text_px, _text_width("0.00", style)


def _panel_size(rows: Sequence[_Row], style: Style) -> tuple[int, int]:
    headings = [_text_width(row.text, style) for row in rows if row.value is None]
    width = max(sum(_columns(rows, style)) + 2 * GAP, *headings, 0) + 2 * PAD
    return width, len(rows) * style.row + 2 * PAD


def _tag(face: FaceResult, style: Style) -> tuple[Rect, str]:
    """The label tag on top of the box, and its text."""
    text = f"{face.label} {face.confidence:.2f}"
    (width, height), baseline = cv2.getTextSize(text, FONT, style.font_scale, style.stroke)
    x0, y0 = round(face.box[0]), round(face.box[1])
    top = max(0, y0 - height - baseline - 4)
    return (x0, top, x0 + width + 4, top + height + baseline + 4), text


def _footprint(face: FaceResult, style: Style) -> Rect:
    """What drawing the face covers: its box with the line's width, and its label tag."""
    x0, y0, x1, y1 = (round(v) for v in face.box)
    tag = _tag(face, style)[0]
    return (min(x0 - style.line, tag[0]), min(y0 - style.line, tag[1]), max(x1 + style.line + 1, tag[2]),
            max(y1 + style.line + 1, tag[3]))


def _draw_face(canvas: np.ndarray, face: FaceResult, style: Style) -> None:
    x0, y0, x1, y1 = (round(v) for v in face.box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_COLOUR, style.line)
    if face.landmarks is not None:
        for x, y in face.landmarks:
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(canvas, (round(x), round(y)), style.line + 1, BOX_COLOUR, -1)
    (tx0, ty0, tx1, ty1), text = _tag(face, style)
    cv2.rectangle(canvas, (tx0, ty0), (tx1 - 1, ty1 - 1), BOX_COLOUR, -1)
    cv2.putText(canvas, text, (tx0 + 2, ty0 + style.text_px + 2), FONT, style.font_scale, (0, 0, 0), style.stroke,
                cv2.LINE_AA)


def _shade(canvas: np.ndarray, rect: Rect) -> None:
    """Darken `rect` so white text on it reads over any image."""
    region = canvas[rect[1]:rect[3], rect[0]:rect[2]]
    region[:] = (region * 0.35 + np.array(PANEL_COLOUR) * 0.65).astype(np.uint8)


def _put(canvas: np.ndarray, text: str, origin: tuple[int, int], style: Style) -> None:
    cv2.putText(canvas, text, origin, FONT, style.font_scale, TEXT_COLOUR, style.stroke, cv2.LINE_AA)


def _draw_panel(canvas: np.ndarray, rows: Sequence[_Row], rect: Rect, style: Style) -> None:
    """Headings as text; bar rows as name, a bar as long as the value (0 to 1), and the value as a number."""
    _shade(canvas, rect)
    name_width, bar_length, _ = _columns(rows, style)
    x = rect[0] + PAD
    bar_x = x + name_width + GAP
    for i, row in enumerate(rows):
        top = rect[1] + PAD + i * style.row
        baseline = top + style.text_px + 1
        _put(canvas, row.text, (x, baseline), style)
        if row.value is None:
            continue
        length = max(1, round(bar_length * row.value))
        cv2.rectangle(canvas, (bar_x, top + 1), (bar_x + length - 1, baseline), row.colour, -1)
        if row.mark is not None:
            mark_x = bar_x + round(bar_length * row.mark)
            cv2.line(canvas, (mark_x, top), (mark_x, baseline + 1), MARK_COLOUR, 1)
        _put(canvas, f"{row.value:.2f}", (bar_x + bar_length + GAP, baseline), style)


def _draw_leader(canvas: np.ndarray, footprint: Rect, panel: Rect, style: Style) -> None:
    """A line from a panel that had to move away from its face back to the face, so it is clear whose it is."""
    centre = ((footprint[0] + footprint[2]) // 2, (footprint[1] + footprint[3]) // 2)
    start = _nearest(centre, panel)
    end = _nearest(start, footprint)
    if max(abs(start[0] - end[0]), abs(start[1] - end[1])) > 2 * GAP:
        cv2.line(canvas, start, end, BOX_COLOUR, style.line, cv2.LINE_AA)


def _nearest(point: tuple[int, int], rect: Rect) -> tuple[int, int]:
    """The pixel of `rect` nearest to `point`."""
    return min(max(point[0], rect[0]), rect[2] - 1), min(max(point[1], rect[1]), rect[3] - 1)


def _jet(values: np.ndarray) -> np.ndarray:
    """RGB JET colours of values in [0, 1]."""
    return cv2.cvtColor(cv2.applyColorMap(np.uint8(np.round(values * 255)), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def heat_strength(shape: tuple[int, ...], faces: Sequence[FaceResult]) -> np.ndarray:
    """The faces' Grad-CAM carried onto an image of `shape`, as a colouring strength in [0, 1] per pixel.

    Heat at or below HEAT_FLOOR gives 0, so the crop's cool background leaves the image untouched; above it
    the strength rises linearly to 1 at the map's peak.
    """
    heat = np.zeros(shape[:2], dtype=np.float32)
    for face in faces:
        if face.heatmap is not None and face.matrix is not None:
            heat = np.maximum(heat, heatmap_to_source(face.heatmap, face.matrix, shape))
    return np.clip((heat - HEAT_FLOOR) / (1.0 - HEAT_FLOOR), 0.0, 1.0)


def heat_layer(shape: tuple[int, ...], faces: Sequence[FaceResult], opacity: float = 0.6) -> np.ndarray:
    """An RGBA uint8 layer of the faces' Grad-CAM for an image of `shape`, to lay over it (a web page does).

    JET colours, with opacity rising with the heat to `opacity` at the peak; transparent black where it is cool
    (all zeros, so that the layer compresses well as PNG).
    """
    strength = heat_strength(shape, faces)
    colours = _jet(strength)
    colours[strength == 0] = 0
    return np.dstack([colours, np.uint8(np.round(strength * opacity * 255))])


def _overlay_heat(canvas: np.ndarray, faces: Sequence[FaceResult], opacity: float) -> bool:
    """Blend the faces' Grad-CAM onto `canvas` in place; False when no pixel was hot enough to colour."""
    strength = heat_strength(canvas.shape, faces)
    hot = strength > 0
    if not hot.any():
        return False
    weight = (strength[hot] * opacity)[:, None]
    canvas[hot] = np.uint8(np.round(canvas[hot] * (1.0 - weight) + _jet(strength[hot][:, None])[:, 0] * weight))
    return True


def _heat_scale_size(style: Style) -> tuple[int, int]:
    return 2 * PAD + style.text_px + GAP + _text_width("high", style), 2 * PAD + 5 * style.text_px


def _draw_heat_scale(canvas: np.ndarray, rect: Rect, style: Style) -> None:
    """The overlay's colour bar, "high" at the top and "low" at the bottom, so its colours can be read."""
    _shade(canvas, rect)
    x0, y0, x1, y1 = rect[0] + PAD, rect[1] + PAD, rect[0] + PAD + style.text_px, rect[3] - PAD
    ramp = np.repeat(np.linspace(1.0, 0.0, y1 - y0, dtype=np.float32)[:, None], x1 - x0, axis=1)
    bar = canvas[y0:y1, x0:x1]  # smaller than the ramp where the image is smaller than the scale
    bar[:] = _jet(ramp)[:bar.shape[0], :bar.shape[1]]
    _put(canvas, "high", (x1 + GAP, y0 + style.text_px), style)
    _put(canvas, "low", (x1 + GAP, y1), style)


class Annotator:
    """Writes annotated copies of the inputs into one folder: images as images, videos as mp4.

    `explain` overlays Grad-CAM, which only records computed with explain=True carry.
    """

    def __init__(self, folder: str | Path, explain: bool = False) -> None:
        self.folder = Path(folder)
        self.explain = explain
        self._used: set[str] = set()
        self.folder.mkdir(parents=True, exist_ok=True)

    def image(self, path: str, image: np.ndarray, faces: Sequence[FaceResult]) -> Path:
        """Draw `faces` on the decoded RGB `image` of `path` and save it as OUTDIR/<stem>."""
        suffix = Path(path).suffix.lower()
        target = self._target(path, suffix if suffix in PIL_FORMATS else ".png")
        with atomic_path(target) as partial:
            Image.fromarray(annotate(image, faces, explain=self.explain)).save(partial, PIL_FORMATS[target.suffix])
        return target

    def video(self, path: str, fps: float, shape: tuple[int, ...]) -> VideoSink:
        """An mp4 for the annotated frames of `path`; 25 fps when the container does not say."""
        return VideoSink(self._target(path, ".mp4"), fps if fps > 0 else 25.0, shape, self.explain)

    def _target(self, path: str, suffix: str) -> Path:
        """OUTDIR/<stem><suffix>, numbered when two inputs share a stem."""
        stem, number = Path(path).stem.replace(":", "_"), 1  # webcam:0 -> webcam_0
        name = f"{stem}{suffix}"
        while name in self._used:
            number += 1
            name = f"{stem}-{number}{suffix}"
        self._used.add(name)
        return self.folder / name


class VideoSink:
    """An mp4 file of frames of one `shape`, each written with its faces drawn on; close() finishes the file."""

    def __init__(self, target: Path, fps: float, shape: tuple[int, ...], explain: bool = False) -> None:
        self.target = target
        self.explain = explain
        self._writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (shape[1], shape[0]))
        if not self._writer.isOpened():
            raise OSError(f"{target}: cannot open an mp4 writer")

    def write(self, image: np.ndarray, faces: Sequence[FaceResult]) -> None:
        """Append the RGB frame `image` with `faces` drawn on it."""
        self._writer.write(cv2.cvtColor(annotate(image, faces, explain=self.explain), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file, so that players can open it."""
        self._writer.release()
