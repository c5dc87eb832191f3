import numpy as np
import pytest

from pcnn_fer.engine.metrics import confusion_matrix, mean_std, summarize

CLASSES = ("a", "b", "c")
# 10 fixed predictions. Per class (true -> predicted):
#   a: a a a b      (4 samples, 3 right)
#   b: b b c        (3 samples, 2 right)
#   c: a c c        (3 samples, 2 right)
TARGETS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTIONS = [0, 0, 0, 1, 1, 1, 2, 0, 2, 2]


def test_confusion_matrix_counts_true_rows_predicted_columns():
    assert confusion_matrix(TARGETS, PREDICTIONS, 3).tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]


def test_metrics_equal_hand_computed_values():
    metrics = summarize(confusion_matrix(TARGETS, PREDICTIONS, 3), CLASSES)
    # Precision: a 3/4, b 2/3, c 2/3.  Recall: a 3/4, b 2/3, c 2/3.  F1 = precision = recall here.
    assert metrics["accuracy"] == pytest.approx(7 / 10)
    assert metrics["mean_class_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert metrics["macro_f1"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert metrics["per_class"]["a"] == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4})
    assert metrics["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert metrics["count"] == 10


def test_unequal_precision_and_recall_and_a_class_never_seen():
    # true: a a b b ; predicted: a b b b ; class c neither true nor predicted.
    metrics = summarize(confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], 3), CLASSES)
    f1_a = 2 * 1.0 * 0.5 / 1.5
    f1_b = 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)
    assert metrics["per_class"]["a"]["precision"] == 1.0 and metrics["per_class"]["a"]["recall"] == 0.5
    assert metrics["macro_f1"] == pytest.approx((f1_a + f1_b) / 2)  # c is not in the label set
    assert metrics["mean_class_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    assert metrics["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_out_of_range_labels_are_refused():
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix([0, 3], [0, 1], 3)


def test_mean_std_is_population_std():
    mean, std = mean_std([0.5, 0.7, 0.9])
    assert mean == pytest.approx(0.7)
    assert std == pytest.approx(np.sqrt(((0.2) ** 2 * 2) / 3))
