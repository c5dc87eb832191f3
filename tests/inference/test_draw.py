"""Drawing records onto images."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from pcnn_fer.faces.align import box_matrix
from pcnn_fer.inference.draw import (
    BAR_COLOUR,
    BOX_COLOUR,
    FONT,
    ORGAN_COLOUR,
    TOP_CLASSES,
    Annotator,
    Layout,
    annotate,
    heat_layer,
    layout,
    place_panels,
    text_style,
)
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.models.organs import ORGANS

SEVEN = {"neutral": 0.05, "happiness": 0.55, "surprise": 0.1, "sadness": 0.05, "anger": 0.1, "disgust": 0.05,
         "fear": 0.1}


def record(**changes) -> FaceResult:
    fields = dict(input="a.jpg", face=0, box=(60.0, 40.0, 140.0, 120.0), detection_score=1.0, label="happiness",
                  probabilities={"neutral": 0.2, "happiness": 0.7, "sadness": 0.1},
                  landmarks=((80.0, 70.0), (120.0, 70.0), (np.nan, np.nan), (85.0, 100.0), (115.0, 100.0)))
    fields.update(changes)
    return FaceResult(**fields)


def test_annotate_draws_box_label_and_bars_on_a_copy():
    image = np.full((200, 400, 3), 128, dtype=np.uint8)
    drawn = annotate(image, [record()])
    assert (image == 128).all() and drawn.shape == image.shape and drawn.dtype == np.uint8
    assert (drawn[40:121, 60] != 128).any(axis=1).all()  # the box's left edge
    assert (drawn[40:100, 145:250] != 128).any()  # the probability chart right of the box
    assert (drawn[80:90, 90:110] == 128).all()  # the face itself stays visible


def test_records_without_a_face_draw_nothing_and_explain_overlays_the_heat_map():
    image = np.full((200, 300, 3), 128, dtype=np.uint8)
    assert (annotate(image, [FaceResult(input="a.jpg"), FaceResult(input="a.jpg", error="bad")]) == 128).all()
    heat = np.zeros((96, 96), dtype=np.float32)
    heat[40:60, 40:60] = 1.0
    face = record(heatmap=heat, matrix=box_matrix((60.0, 40.0, 140.0, 120.0), 96, margin=0.0))
    plain, explained = annotate(image, [face]), annotate(image, [face], explain=True)
    centre = (slice(80, 85), slice(98, 103))
    assert (plain[centre] == 128).all() and (explained[centre] != 128).any()
    assert (explained[180:, :50] == 128).all()


def panels_of(image_shape, faces, **options) -> list:
    """Where annotate puts each face's panel."""
    return layout(image_shape, faces, **options).panels


def overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_panels_cover_no_face_and_no_other_panel():
    footprints = [(100, 100, 200, 200), (240, 100, 340, 200), (380, 100, 480, 200)]
    panels = place_panels(footprints, [(150, 120)] * 3, (360, 640, 3))
    for i, panel in enumerate(panels):
        assert panel[0] >= 0 and panel[1] >= 0 and panel[2] <= 640 and panel[3] <= 360
        assert all(overlap(panel, box) == 0 for box in footprints)
        assert all(overlap(panel, other) == 0 for other in panels[i + 1:])


def test_a_panel_slides_along_its_face_past_the_face_in_the_way():
    footprints = [(0, 0, 60, 100), (60, 0, 100, 50)]  # B sits right of A's top half
    assert place_panels(footprints[:1], [(30, 40)], (100, 100, 3)) == [(64, 0, 94, 40)]  # right of A
    # Still right of A, slid below B; B's panel then has no free spot left (the 36 x 46 corner holds one panel).
    assert place_panels(footprints, [(30, 40), (30, 30)], (100, 100, 3)) == [(64, 60, 94, 100), None]


def test_a_face_without_a_free_spot_beside_it_gets_no_panel():
    assert place_panels([(0, 0, 100, 80)], [(50, 50)], (100, 100, 3)) == [None]  # 16 rows below: too few
    assert place_panels([(0, 0, 100, 80)], [(50, 10)], (100, 100, 3)) == [(0, 84, 50, 94)]
    footprints = [(0, 0, 50, 100), (50, 0, 100, 100)]  # the faces fill the image
    assert place_panels(footprints, [(30, 30)] * 2, (100, 100, 3)) == [None, None]
    assert place_panels([(0, 0, 40, 40), (60, 60, 100, 100)], [(20, 20), None], (100, 100, 3)) == [(44, 0, 64, 20),
                                                                                                    None]


def test_a_panel_does_not_cover_the_face_next_to_it():
    image = np.full((360, 640, 3), 128, dtype=np.uint8)
    boxes = [(100.0, 100.0, 200.0, 200.0), (240.0, 100.0, 340.0, 200.0), (380.0, 100.0, 480.0, 200.0)]
    faces = [record(box=box, landmarks=None) for box in boxes]  # no panel fits right of a face or left of it
    drawn = annotate(image, faces)
    for x0, y0, x1, y1 in (tuple(round(v) for v in box) for box in boxes):
        assert (drawn[y0 + 2:y1 - 1, x0 + 2:x1 - 1] == 128).all()  # inside each box: the face alone
    panels = panels_of(image.shape, faces)
    assert all(overlap(panel, (b[0], b[1], b[2] + 1, b[3] + 1)) == 0 for panel in panels for b in boxes)
    assert all(overlap(a, b) == 0 for i, a in enumerate(panels) for b in panels[i + 1:])


def bar_rows(panel: np.ndarray, colours) -> list[slice]:
    """The runs of panel rows that hold a bar of one of `colours`."""
    bar = np.zeros(panel.shape[:2], dtype=bool)
    for colour in colours:
        bar |= (panel == colour).all(axis=-1)
    rows = np.flatnonzero(bar.any(axis=1))
    starts = [rows[0], *rows[1:][np.diff(rows) > 1]] if len(rows) else []
    ends = [*rows[:-1][np.diff(rows) > 1], rows[-1]] if len(rows) else []
    return [slice(a, b + 1) for a, b in zip(starts, ends)], bar


def test_each_bar_has_its_value_written_beside_it():
    image = np.full((360, 640, 3), 128, dtype=np.uint8)
    face = record(probabilities=SEVEN, label="happiness", landmarks=None)
    x0, y0, x1, y1 = panels_of(image.shape, [face])[0]
    panel = annotate(image, [face])[y0:y1, x0:x1]
    runs, bar = bar_rows(panel, (BAR_COLOUR, BOX_COLOUR))
    assert len(runs) == len(SEVEN)
    for run in runs:
        end = np.flatnonzero(bar[run].any(axis=0)).max()
        assert (panel[run, end + 2:].min(axis=-1) > 200).any()  # white digits right of the bar


def test_text_is_readable_on_a_640x360_frame():
    style = text_style((360, 640, 3))
    assert cv2.getTextSize("happiness", FONT, style.font_scale, style.stroke)[0][1] >= 12
    image = np.full((360, 640, 3), 128, dtype=np.uint8)
    drawn = annotate(image, [record(label="neutral", probabilities={"neutral": 0.7, "fear": 0.3}, landmarks=None)])
    tag = drawn[:40, 60:250]  # the label tag over the box's top edge: black "neutral 0.70", no descenders
    assert (tag.max(axis=-1) < 60).any(axis=1).sum() >= 11


def test_organ_shares_add_a_five_bar_chart_only_when_the_record_has_them():
    image = np.full((360, 640, 3), 128, dtype=np.uint8)
    shares = dict(zip(ORGANS, (0.3, 0.25, 0.15, 0.1, 0.2)))
    with_organs, without = record(organ_contributions=shares), record()
    for face, bars in ((with_organs, 5), (without, 0)):
        x0, y0, x1, y1 = panels_of(image.shape, [face])[0]
        runs, _ = bar_rows(annotate(image, [face])[y0:y1, x0:x1], (ORGAN_COLOUR,))
        assert len(runs) == bars
    taller = panels_of(image.shape, [with_organs])[0][3] - panels_of(image.shape, [without])[0][3]
    assert taller == 6 * text_style(image.shape).row  # a heading and the five organs, below the class bars


def explained_face(heat: np.ndarray) -> FaceResult:
    box = (60.0, 40.0, 140.0, 120.0)
    return record(landmarks=None, heatmap=heat, matrix=box_matrix(box, 96, margin=0.0))


def test_cool_heat_leaves_the_crop_untouched():
    image = np.full((200, 300, 3), 128, dtype=np.uint8)
    for background in (0.0, 0.1):  # Grad-CAM far below its peak, e.g. a face's untouched cheeks
        heat = np.full((96, 96), background, dtype=np.float32)
        heat[40:60, 40:60] = 1.0
        drawn = annotate(image, [explained_face(heat)], explain=True)
        assert (drawn[45:66, 65:136] == 128).all() and (drawn[100:116, 65:136] == 128).all()
        assert (drawn[80:85, 98:103] != 128).any()


def test_the_heat_layer_is_transparent_where_cool_and_opaque_where_hot():
    heat = np.zeros((96, 96), dtype=np.float32)
    heat[40:60, 40:60] = 1.0
    layer = heat_layer((200, 300, 3), [explained_face(heat)], opacity=0.6)
    assert layer.shape == (200, 300, 4) and layer.dtype == np.uint8
    assert layer[82, 100, 3] == round(0.6 * 255) and layer[82, 100, 0] > layer[82, 100, 2]  # hot: red, opaque
    assert layer[10, 10, 3] == 0 and layer[50, 70, 3] == 0  # outside the face, and the face's cool corner
    assert not heat_layer((200, 300, 3), [record()]).any()  # a record without a heat map lays nothing


def test_heat_fades_out_at_the_crop_edge():
    image = np.full((200, 300, 3), 128, dtype=np.uint8)
    drawn = annotate(image, [explained_face(np.ones((96, 96), dtype=np.float32))], explain=True).astype(int)
    change = np.abs(drawn - 128).max(axis=-1)
    assert change[80, 100] > 40 and change[80, 61] < change[80, 100] / 4 and change[80, 59] == 0


def test_explain_draws_a_colour_scale_and_names_the_explained_class():
    image = np.full((240, 400, 3), 128, dtype=np.uint8)
    heat = np.zeros((96, 96), dtype=np.float32)
    heat[40:60, 40:60] = 1.0
    face = explained_face(heat)
    jet = cv2.cvtColor(cv2.applyColorMap(np.uint8([[255, 0]]), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[0]
    plain, explained = annotate(image, [face]), annotate(image, [face], explain=True)
    for colour in jet:  # the scale's "high" and "low" ends, opaque, in a corner clear of the face
        rows, columns = np.nonzero((explained == colour).all(axis=-1))
        assert len(rows) and (columns > 200).all() and (rows.max() < 80 or rows.min() > 120)
        assert not (plain == colour).all(axis=-1).any()
    title = panels_of(image.shape, [face], explain=True)[0]
    assert title[3] - title[1] - (lambda r: r[3] - r[1])(panels_of(image.shape, [face])[0]) == \
        text_style(image.shape).row  # the "Grad-CAM: happiness" title row


def crowd(count: int, columns: int, tile: int) -> tuple[tuple[int, int, int], list[FaceResult]]:
    """A group photo's records: `count` faces of 45-60 % of a `tile`-pixel cell, each a little off its cell's
    centre, with seven class probabilities and five organ shares each."""
    rng = np.random.default_rng(count)
    faces = []
    for i in range(count):
        row, column = divmod(i, columns)
        side = tile * rng.uniform(0.45, 0.6)
        x0, y0 = (np.array([column, row]) + 0.5 + rng.uniform(-0.1, 0.1, 2)) * tile - side / 2
        probabilities = dict(zip(SEVEN, rng.dirichlet(np.ones(len(SEVEN))).tolist()))
        faces.append(record(face=i, box=(x0, y0, x0 + side, y0 + side), landmarks=None,
                            label=max(probabilities, key=probabilities.get), probabilities=probabilities,
                            organ_contributions=dict(zip(ORGANS, rng.dirichlet(np.ones(len(ORGANS))).tolist()))))
    return (math.ceil(count / columns) * tile, columns * tile, 3), faces


def assert_every_label_readable(plan: Layout, faces: list[FaceResult], image_shape: tuple[int, ...]) -> None:
    """Each face's tag names its label, lies inside the image and is covered by no other tag, no panel and no
    heat scale; panels cover no box and no other panel."""
    height, width = image_shape[:2]
    tags = [tag.rect for tag in plan.tags]
    panels = [panel for panel in plan.panels if panel is not None]
    covers = panels + ([plan.heat_scale] if plan.heat_scale is not None else [])
    assert len(tags) == len(faces)
    for i, (tag, face) in enumerate(zip(plan.tags, faces)):
        assert tag.text.split()[0] == face.label
        assert tag.rect[0] >= 0 and tag.rect[1] >= 0 and tag.rect[2] <= width and tag.rect[3] <= height
        assert [j for j, other in enumerate(tags) if j != i and overlap(tag.rect, other)] == []
        assert [cover for cover in covers if overlap(tag.rect, cover)] == []
    for i, panel in enumerate(panels):
        assert [box for box in plan.boxes if overlap(panel, box)] == []
        assert [other for other in panels[i + 1:] if overlap(panel, other)] == []


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explained"])
@pytest.mark.parametrize("count, columns, tile", [(10, 5, 200), (20, 5, 200), (50, 10, 128)])
def test_no_label_is_covered_in_a_crowd(count: int, columns: int, tile: int, explain: bool):
    shape, faces = crowd(count, columns, tile)
    assert_every_label_readable(layout(shape, faces, explain=explain), faces, shape)


def test_a_face_filling_its_photo_keeps_its_label_clear_and_gets_the_panel_that_fits():
    face = record(box=(107.0, 104.0, 383.0, 483.0), landmarks=None, probabilities=SEVEN,
                  organ_contributions=dict(zip(ORGANS, (0.3, 0.25, 0.15, 0.1, 0.2))))  # a 512 px portrait
    plan = layout((512, 512, 3), [face])
    assert_every_label_readable(plan, [face], (512, 512, 3))
    (rows,) = plan.rows
    assert [row.text for row in rows] == sorted(SEVEN, key=SEVEN.get, reverse=True)[:TOP_CLASSES]
    wide = layout((512, 1024, 3), [face])  # room beside the face: the full panel, classes and organs
    assert len(wide.rows[0]) == len(SEVEN) + 1 + len(ORGANS)


def test_box_and_label_only_draws_no_panel(tmp_path):
    image = np.full((200, 400, 3), 128, dtype=np.uint8)
    plain = layout(image.shape, [record()], panels=False)
    assert plain.panels == [None] and plain.tags == layout(image.shape, [record()]).tags
    target = Annotator(tmp_path, panels=False).image("a.png", image, [record()])
    drawn = np.asarray(Image.open(target))
    assert (drawn[40:121, 60] != 128).any(axis=1).all()  # the box's left edge
    assert not (drawn == BAR_COLOUR).all(axis=-1).any()  # no probability bar, which the panel would draw:
    assert (annotate(image, [record()]) == BAR_COLOUR).all(axis=-1).any()
