"""Drawing records onto images."""

from __future__ import annotations

import numpy as np

from pcnn_fer.faces.align import box_matrix
from pcnn_fer.inference.draw import annotate
from pcnn_fer.inference.results import FaceResult


def record(**changes) -> FaceResult:
    fields = dict(input="a.jpg", face=0, box=(60.0, 40.0, 140.0, 120.0), score=1.0, label="happiness",
                  probabilities={"neutral": 0.2, "happiness": 0.7, "sadness": 0.1},
                  landmarks=((80.0, 70.0), (120.0, 70.0), (np.nan, np.nan), (85.0, 100.0), (115.0, 100.0)))
    fields.update(changes)
    return FaceResult(**fields)


def test_annotate_draws_box_label_and_bars_on_a_copy():
    image = np.full((200, 300, 3), 128, dtype=np.uint8)
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
