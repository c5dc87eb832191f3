"""The report's figures: what a reader needs to read them is on them."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from pcnn_fer.engine.reporting import confusion_figure, curves_figure, plot_confusion, plot_curves

HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5 + 0.1 * e,
            "val_accuracy": 0.4 + 0.1 * e} for e in (1, 2, 3)]


def test_the_confusion_matrix_has_a_colour_bar_that_says_rows_are_normalised(tmp_path):
    confusion = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 10]])
    figure = confusion_figure(confusion, ["neutral", "happiness", "sadness"], "main head")
    matrix, colour_bar = figure.axes
    assert len(figure.axes) == 2
    assert "row-normalised" in colour_bar.get_ylabel() + colour_bar.get_xlabel()
    np.testing.assert_allclose(matrix.images[0].get_array(), confusion / confusion.sum(axis=1, keepdims=True))
    path = plot_confusion(confusion, ["neutral", "happiness", "sadness"], tmp_path / "plots" / "c.png", "main")
    assert path.exists() and matplotlib.image.imread(path).ndim == 3


def test_curves_tick_whole_epochs(tmp_path):
    figure = curves_figure(HISTORY)
    assert len(figure.axes) == 2
    for axis in figure.axes:
        ticks = axis.get_xticks()
        assert len(ticks) and np.allclose(ticks, np.round(ticks))
    assert plot_curves(HISTORY, tmp_path / "plots" / "curves.png").exists()
