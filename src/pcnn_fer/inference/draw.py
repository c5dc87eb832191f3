"""Draw face records onto their image: box, label, a probability panel (with organ shares) where one fits beside the
face, optionally Grad-CAM.

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

from pcnn_fer.atomic import atomic_path, finish, partial_path
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
TOP_CLASSES = 3  # the likeliest classes a smaller panel keeps where the full one does not fit
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
class PanelRow:
    """One panel row: a heading when `value` is None, else a labelled bar with its value written beside it."""

    text: str
    value: float | None = None
    colour: tuple[int, int, int] = BAR_COLOUR
    mark: float | None = None  # a reference tick on the bar, e.g. the average organ's share


class Tag(NamedTuple):
    """A face's label tag: where it lies and what it says."""

    rect: Rect
    text: str


class Layout(NamedTuple):
    """Where `annotate` draws, as rectangles, for the face records that have a face, in their order.

    `boxes` are the faces' boxes with their line's width. `panels[i]` is None where no panel fits beside face i
    without covering a box, a tag or another panel, and `rows[i]` are the rows its panel shows (a smaller panel
    where the full one does not fit). `heat_scale` is None unless explaining and some spot covers no tag or panel.
    """

    style: Style
    boxes: list[Rect]
    tags: list[Tag]
    panels: list[Rect | None]
    rows: list[list[PanelRow]]
    heat_scale: Rect | None


def annotate(image: np.ndarray, faces: Sequence[FaceResult], *, explain: bool = False, panels: bool = True,
             heat_opacity: float = 0.45) -> np.ndarray:
    """A copy of the RGB uint8 `image` with each face's box and label drawn, and its probability panel where one
    fits beside it (`panels` False: boxes and labels only); `explain` overlays the faces' Grad-CAM maps."""
    canvas = np.ascontiguousarray(image.copy())
    faces = [face for face in faces if face.is_face]
    plan = layout(canvas.shape, faces, explain=explain, panels=panels)
    if explain and _overlay_heat(canvas, faces, heat_opacity) and plan.heat_scale is not None:
        _draw_heat_scale(canvas, plan.heat_scale, plan.style)
    for face in faces:
        _draw_box(canvas, face, plan.style)
    for tag in plan.tags:  # after every box, so that no box line crosses a label
        _draw_tag(canvas, tag, plan.style)
    for rows, panel in zip(plan.rows, plan.panels):
        if panel is not None:
            _draw_panel(canvas, rows, panel, plan.style)
    return canvas


def layout(image_shape: tuple[int, ...], faces: Sequence[FaceResult], *, explain: bool = False,
           panels: bool = True) -> Layout:
    """Where `annotate` draws on an image of `image_shape`: a pure function of sizes, so that what covers what can
    be checked without pixels.

    Labels come first and stay readable however crowded the image: no tag covers another. Panels then go only
    where they cover no box, no tag and no other panel: where a face's full panel does not fit, a smaller one
    may, and where none does, the face keeps its box and label alone. The heat scale goes where it covers no tag
    and no panel.
    """
    faces = [face for face in faces if face.is_face]
    style = text_style(image_shape)
    boxes = [_box_rect(face, style) for face in faces]
    tags = place_tags(boxes, [_tag_texts(face) for face in faces], style, image_shape)
    footprints = [_union(box, tag.rect) for box, tag in zip(boxes, tags)]
    variants = [_panel_variants(face, explain and face.heatmap is not None and face.matrix is not None)
                if panels else [] for face in faces]
    placed, rows = _place_fullest_panels(footprints, variants, style, image_shape)
    heat_scale = None
    if explain:
        heat_scale = _place_heat_scale(_heat_scale_size(style), [tag.rect for tag in tags],
                                       [panel for panel in placed if panel is not None], boxes, image_shape)
    return Layout(style, boxes, tags, placed, rows, heat_scale)


def place_tags(boxes: Sequence[Rect], texts: Sequence[Sequence[str]], style: Style,
               image_shape: tuple[int, ...]) -> list[Tag]:
    """Each face's label tag, placed in the boxes' order so that no tag covers an earlier one wherever a spot allows.

    A tag goes above its box's left corner by default; when that spot is taken, above its right corner, below
    the box, or inside its top or bottom edge; then in the face's shorter text (`texts[i]` lists the face's texts,
    fullest first). The first spot covering no tag and no other face wins; failing that, the first covering no
    tag (a label over a neighbour's chin reads better than two labels over each other); failing that, the one
    covering least of the other tags.
    """
    tags: list[Tag] = []
    for i, (box, options) in enumerate(zip(boxes, texts)):
        candidates = [(text, rect) for text in options for rect in _tag_spots(box, _tag_size(text, style), image_shape)]
        rects = np.array([rect for _, rect in candidates])
        on_tags = _covered(rects, [tag.rect for tag in tags])
        on_faces = _covered(rects, [other for j, other in enumerate(boxes) if j != i])
        best = np.lexsort((np.arange(len(rects)), on_faces > 0, on_tags))[0]  # the last key sorts first
        tags.append(Tag(tuple(int(v) for v in rects[best]), candidates[best][0]))
    return tags


def place_panels(footprints: Sequence[Rect], sizes: Sequence[tuple[int, int] | None], image_shape: tuple[int, ...],
                 gap: int = GAP, taken: Sequence[Rect] = ()) -> list[Rect | None]:
    """Each face's (width, height) panel beside its footprint (box and tag), inside the image and covering no
    footprint, no other panel and nothing `taken`; None where no spot is free, or where the size is None.

    A panel lies right of, left of, below or above its face and alongside it (sharing rows with it beside it,
    columns above or below it), flush with the face or slid past what is in the way, so that it reads as the
    face's own without a line to it. The nearest free spot wins, the earlier on ties. Faces are placed one by one,
    in order and in reverse, keeping the layout that places more panels: the first face placed can take the one
    spot a later face needed.
    """
    orders = (range(len(footprints)), range(len(footprints))[::-1])
    layouts = [_place_in_order(footprints, sizes, image_shape, gap, taken, order) for order in orders]
    return max(layouts, key=lambda panels: sum(panel is not None for panel in panels))  # the first of equals


def _place_in_order(footprints: Sequence[Rect], sizes: Sequence[tuple[int, int] | None], image_shape: tuple[int, ...],
                    gap: int, taken: Sequence[Rect], order: Sequence[int]) -> list[Rect | None]:
    panels: list[Rect | None] = [None] * len(footprints)
    for i in order:
        if sizes[i] is not None:
            obstacles = np.array([*footprints, *taken, *(panel for panel in panels if panel is not None)])
            panels[i] = _free_spot(footprints[i], sizes[i], obstacles, image_shape, gap)
    return panels


def _free_spot(footprint: Rect, size: tuple[int, int], obstacles: np.ndarray, image_shape: tuple[int, ...],
               gap: int) -> Rect | None:
    """The nearest spot beside `footprint` for a panel of `size` that lies inside the image and covers no obstacle."""
    x0, y0, x1, y1 = footprint
    (w, h), (height, width) = size, image_shape[:2]
    lefts = [x0, x1 - w, 0, width - w, *(obstacles[:, 2] + gap), *(obstacles[:, 0] - gap - w)]
    tops = [y0, y1 - h, 0, height - h, *(obstacles[:, 3] + gap), *(obstacles[:, 1] - gap - h)]
    corners = np.array([*((x1 + gap, y) for y in tops), *((x0 - gap - w, y) for y in tops),
                        *((x, y1 + gap) for x in lefts), *((x, y0 - gap - h) for x in lefts)])
    rects = np.concatenate([corners, corners + (w, h)], axis=1)
    alongside = ((rects[:, 1] < y1) & (rects[:, 3] > y0)) | ((rects[:, 0] < x1) & (rects[:, 2] > x0))
    usable = np.flatnonzero(alongside & _inside(rects, image_shape) & (_covered(rects, obstacles) == 0))
    if not len(usable):
        return None
    distance = (np.maximum(0, np.maximum(rects[usable, 0] - x1, x0 - rects[usable, 2]))
                + np.maximum(0, np.maximum(rects[usable, 1] - y1, y0 - rects[usable, 3])))
    return tuple(int(v) for v in rects[usable[np.argmin(distance)]])


def _place_fullest_panels(footprints: Sequence[Rect], variants: Sequence[Sequence[list[PanelRow]]], style: Style,
                          image_shape: tuple[int, ...]) -> tuple[list[Rect | None], list[list[PanelRow]]]:
    """Each face's fullest panel that fits: every face's full panel first; then, for the faces left without one,
    the next smaller panel around those placed, and so on."""
    panels: list[Rect | None] = [None] * len(footprints)
    rows: list[list[PanelRow]] = [[] for _ in footprints]
    for level in range(max(map(len, variants), default=0)):
        sizes = [_panel_size(options[level], style) if panels[i] is None and level < len(options) else None
                 for i, options in enumerate(variants)]
        placed = place_panels(footprints, sizes, image_shape, taken=[panel for panel in panels if panel is not None])
        for i, panel in enumerate(placed):
            if panel is not None:
                panels[i], rows[i] = panel, variants[i][level]
    return panels, rows


def _place_heat_scale(size: tuple[int, int], tags: Sequence[Rect], panels: Sequence[Rect], boxes: Sequence[Rect],
                      image_shape: tuple[int, ...]) -> Rect | None:
    """A spot for the heat scale in a corner or along the image's left or right edge, covering no tag and no panel
    and the fewest face pixels (a corner among equals); None where every spot covers a label or a panel."""
    (w, h), (height, width) = size, image_shape[:2]
    sides = (width - w - GAP, GAP)
    tops = [height - h - GAP, GAP, *(rect[3] + GAP for rect in (*tags, *panels)),
            *(rect[1] - GAP - h for rect in (*tags, *panels))]
    corners = np.array([(x, y) for y in tops for x in sides])
    rects = np.concatenate([corners, corners + (w, h)], axis=1)
    usable = np.flatnonzero(_inside(rects, image_shape) & (_covered(rects, [*tags, *panels]) == 0))
    if not len(usable):
        return None
    return tuple(int(v) for v in rects[usable[np.argmin(_covered(rects[usable], boxes))]])


def _tag_texts(face: FaceResult) -> list[str]:
    """The tag's texts, fullest first: the label with its probability, then the label alone."""
    return [f"{face.label} {face.confidence:.2f}", face.label]


def _tag_size(text: str, style: Style) -> tuple[int, int]:
    (width, height), baseline = cv2.getTextSize(text, FONT, style.font_scale, style.stroke)
    return width + 4, height + baseline + 4


def _tag_spots(box: Rect, size: tuple[int, int], image_shape: tuple[int, ...]) -> list[Rect]:
    """A tag's spots in order of preference, each moved inside the image: above the box's left and right corners,
    below them, inside its top and bottom edges."""
    x0, y0, x1, y1 = box
    (w, h), (height, width) = size, image_shape[:2]
    corners = [(x0, y0 - h), (x1 - w, y0 - h), (x0, y1), (x1 - w, y1), (x0, y0), (x0, y1 - h)]
    return [(x, y, x + w, y + h) for x, y in
            ((min(max(0, x), max(0, width - w)), min(max(0, y), max(0, height - h))) for x, y in corners)]


def _box_rect(face: FaceResult, style: Style) -> Rect:
    """What drawing the face's box covers: the box with its line's width."""
    x0, y0, x1, y1 = (round(v) for v in face.box)
    return x0 - style.line, y0 - style.line, x1 + style.line + 1, y1 + style.line + 1


def _union(a: Rect, b: Rect) -> Rect:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _inside(rects: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Whether each of the (K, 4) `rects` lies wholly inside an image of `image_shape`."""
    height, width = image_shape[:2]
    return (rects[:, 0] >= 0) & (rects[:, 1] >= 0) & (rects[:, 2] <= width) & (rects[:, 3] <= height)


def _covered(rects: np.ndarray, others: Sequence[Rect] | np.ndarray) -> np.ndarray:
    """The pixels each of the (K, 4) `rects` shares with `others`, summed over them: (K,)."""
    others = np.asarray(others, dtype=np.int64).reshape(-1, 4)
    across = np.minimum(rects[:, None, 2], others[None, :, 2]) - np.maximum(rects[:, None, 0], others[None, :, 0])
    down = np.minimum(rects[:, None, 3], others[None, :, 3]) - np.maximum(rects[:, None, 1], others[None, :, 1])
    return (np.clip(across, 0, None) * np.clip(down, 0, None)).sum(axis=1)


def _panel_variants(face: FaceResult, explained: bool) -> list[list[PanelRow]]:
    """The panel's rows, fullest first: a bar per class, then a bar per organ when the record has shares; the
    classes alone; the TOP_CLASSES likeliest. Each begins with the Grad-CAM title when explained."""
    title = [PanelRow(f"Grad-CAM: {face.label}")] if explained else []
    classes = [PanelRow(name, p, BOX_COLOUR if name == face.label else BAR_COLOUR)
               for name, p in face.probabilities.items()]
    variants = [title + classes]
    if face.organ_contributions:
        average = 1.0 / len(face.organ_contributions)
        organs = [PanelRow(organ.replace("left_", "L ").replace("right_", "R "), share, ORGAN_COLOUR, average)
                  for organ, share in face.organ_contributions.items()]
        variants.insert(0, title + classes + [PanelRow("organ share"), *organs])
    if len(classes) > TOP_CLASSES:
        variants.append(title + sorted(classes, key=lambda row: -row.value)[:TOP_CLASSES])
    return variants


def _text_width(text: str, style: Style) -> int:
    return cv2.getTextSize(text, FONT, style.font_scale, style.stroke)[0][0]


def _columns(rows: Sequence[PanelRow], style: Style) -> tuple[int, int, int]:
    """Widths of the bar rows' name, bar and value columns."""
    names = [_text_width(row.text, style) for row in rows if row.value is not None]
    return max(names, default=0), 5 * style.text_px, _text_width("0.00", style)


def _panel_size(rows: Sequence[PanelRow], style: Style) -> tuple[int, int]:
    headings = [_text_width(row.text, style) for row in rows if row.value is None]
    width = max(sum(_columns(rows, style)) + 2 * GAP, *headings, 0) + 2 * PAD
    return width, len(rows) * style.row + 2 * PAD


def _draw_box(canvas: np.ndarray, face: FaceResult, style: Style) -> None:
    x0, y0, x1, y1 = (round(v) for v in face.box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_COLOUR, style.line)
    if face.landmarks is not None:
        for x, y in face.landmarks:
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(canvas, (round(x), round(y)), style.line + 1, BOX_COLOUR, -1)


def _draw_tag(canvas: np.ndarray, tag: Tag, style: Style) -> None:
    x0, y0, x1, y1 = tag.rect
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), BOX_COLOUR, -1)
    cv2.putText(canvas, tag.text, (x0 + 2, y0 + style.text_px + 2), FONT, style.font_scale, (0, 0, 0), style.stroke,
                cv2.LINE_AA)


def _shade(canvas: np.ndarray, rect: Rect) -> None:
    """Darken `rect` so white text on it reads over any image."""
    region = canvas[rect[1]:rect[3], rect[0]:rect[2]]
    region[:] = (region * 0.35 + np.array(PANEL_COLOUR) * 0.65).astype(np.uint8)


def _put(canvas: np.ndarray, text: str, origin: tuple[int, int], style: Style) -> None:
    cv2.putText(canvas, text, origin, FONT, style.font_scale, TEXT_COLOUR, style.stroke, cv2.LINE_AA)


def _draw_panel(canvas: np.ndarray, rows: Sequence[PanelRow], rect: Rect, style: Style) -> None:
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

    `explain` overlays Grad-CAM, which only records computed with explain=True carry; `panels` False draws boxes
    and labels only.
    """

    def __init__(self, folder: str | Path, explain: bool = False, panels: bool = True) -> None:
        self.folder = Path(folder)
        self.explain = explain
        self.panels = panels
        self._used: set[str] = set()
        self.folder.mkdir(parents=True, exist_ok=True)

    def image(self, path: str, image: np.ndarray, faces: Sequence[FaceResult]) -> Path:
        """Draw `faces` on the decoded RGB `image` of `path` and save it as OUTDIR/<stem>."""
        suffix = Path(path).suffix.lower()
        target = self._target(path, suffix if suffix in PIL_FORMATS else ".png")
        with atomic_path(target) as partial:
            Image.fromarray(annotate(image, faces, explain=self.explain, panels=self.panels)).save(
                partial, PIL_FORMATS[target.suffix])
        return target

    def video(self, path: str, fps: float, shape: tuple[int, ...]) -> VideoSink:
        """An mp4 for the annotated frames of `path`; 25 fps when the container does not say."""
        return VideoSink(self._target(path, ".mp4"), fps if fps > 0 else 25.0, shape, self.explain, self.panels)

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
    """An mp4 file of frames of one `shape`, each written with its faces drawn on; close() finishes the file.

    Frames go to the target's partial name (`clip.partial.mp4`) until close() renames a complete video into place,
    so that a file under the target's name is always a whole video.
    """

    def __init__(self, target: Path, fps: float, shape: tuple[int, ...], explain: bool = False,
                 panels: bool = True) -> None:
        self.target = target
        self.partial = partial_path(target)
        self.explain = explain
        self.panels = panels
        self._writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                       (shape[1], shape[0]))
        if not self._writer.isOpened():
            raise OSError(f"{self.partial}: cannot open an mp4 writer")

    def write(self, image: np.ndarray, faces: Sequence[FaceResult]) -> None:
        """Append the RGB frame `image` with `faces` drawn on it."""
        self._writer.write(cv2.cvtColor(annotate(image, faces, explain=self.explain, panels=self.panels),
                                        cv2.COLOR_RGB2BGR))

    def close(self, complete: bool = True) -> Path:
        """Finish the file, so that players can open it, and return where it is: renamed onto the target when
        `complete`, else (the run was interrupted) left under its partial name, which says so."""
        self._writer.release()
        return finish(self.partial, self.target) if complete else self.partial
