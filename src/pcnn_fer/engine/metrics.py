"""Classification metrics from a confusion matrix: the one structure that sums across processes and folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(targets: Sequence[int] | np.ndarray, predictions: Sequence[int] | np.ndarray,
                     num_classes: int) -> np.ndarray:
    """counts[true, predicted] as int64 (num_classes, num_classes)."""
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if targets.shape != predictions.shape:
        raise ValueError(f"{targets.shape[0]} targets but {predictions.shape[0]} predictions")
    for name, values in (("target", targets), ("prediction", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} class index out of range 0..{num_classes - 1}")
    flat = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def summarize(confusion: np.ndarray, class_names: Sequence[str]) -> dict:
    """accuracy, mean class accuracy, macro-F1 and per-class precision / recall / F1 / support.

    Mean class accuracy averages recall over the classes present in the targets. Macro-F1 averages F1 over
    the classes present in the targets or the predictions (scikit-learn's default label set); a class never
    predicted has precision 0.
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    if confusion.shape != (len(class_names), len(class_names)):
        raise ValueError(f"confusion matrix of shape {confusion.shape} does not fit {len(class_names)} classes")
    correct = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    total = support.sum()
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(correct), where=denominator > 0)
    present = support > 0
    seen = present | (predicted > 0)
    return {
        "count": int(total),
        "accuracy": float(correct.sum() / total) if total else 0.0,
        "mean_class_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "class_names": list(class_names),
        "confusion": confusion.tolist(),
    }


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (the usual figure for k-fold results)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("no values to average")
    return float(array.mean()), float(array.std())
