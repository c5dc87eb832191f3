"""Temperature scaling, the prior correction's weight, and calibration error.

A softmax trained with cross-entropy tends to be over-confident. One temperature T, fitted on held-out data,
rescales the logits (logits / T) without changing any prediction, so accuracy stays and confidences become
honest. Reliability is tallied per equal-width confidence bin as (count, sum of confidences, number correct):
an array that, like the confusion matrix, sums across batches and processes; the expected calibration error
is computed from the sum. The prior correction (models.metadata.PriorCorrection) shifts predictions away from the
training prior by a weight chosen on held-out data, where accuracy and mean class accuracy pull opposite ways.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_BINS = 15
# log T is kept within this range, so that separable data (whose NLL keeps falling as T -> 0) or
# near-constant logits (T -> infinity) still give a usable, finite temperature.
LOG_TEMPERATURE_LIMIT = math.log(100.0)


def fit_temperature(logits: Tensor, targets: Tensor, max_iter: int = 100) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) against class indices `targets`.

    Optimised over log T (so T stays positive) with L-BFGS; 1.0 for empty or non-finite input.
    """
    if logits.numel() == 0:
        return 1.0
    logits = logits.detach().double().cpu()
    targets = targets.detach().long().cpu()
    log_temperature = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        bounded = log_temperature.clamp(-LOG_TEMPERATURE_LIMIT, LOG_TEMPERATURE_LIMIT)
        loss = F.cross_entropy(logits / bounded.exp(), targets)
        loss.backward()
        return loss

    with torch.enable_grad():  # also when called under no_grad, as evaluation code often is
        optimizer.step(closure)
    temperature = math.exp(float(log_temperature.detach().clamp(-LOG_TEMPERATURE_LIMIT, LOG_TEMPERATURE_LIMIT)))
    return temperature if math.isfinite(temperature) and temperature > 0 else 1.0


PRIOR_WEIGHTS = tuple(step / 20 for step in range(21))  # 0, 0.05, ..., 1


def fit_prior_weight(logits: Tensor, targets: Tensor, temperature: float, prior: Tensor,
                     weights: tuple[float, ...] = PRIOR_WEIGHTS) -> tuple[float, list[dict]]:
    """The weight w in `weights` whose predictions argmax(logits / T - w * log prior) score the highest accuracy +
    mean class accuracy on (logits, targets), the smallest among ties; and every trial's two figures.

    Both figures count equally: the first rewards the training prior, the second every class alike."""
    if logits.numel() == 0:
        raise ValueError("fitting a prior correction needs held-out faces; none were given")
    scaled = logits.detach().double().cpu() / temperature
    log_prior = prior.double().log()
    targets = targets.long().cpu()
    present = [c for c in range(logits.shape[1]) if (targets == c).any()]
    trials = []
    for weight in weights:
        predicted = (scaled - weight * log_prior).argmax(dim=1)
        recall = [float((predicted[targets == c] == c).double().mean()) for c in present]
        trials.append({"weight": weight, "accuracy": float((predicted == targets).double().mean()),
                       "mean_class_accuracy": sum(recall) / len(recall)})
    best = max(trials, key=lambda t: (round(t["accuracy"] + t["mean_class_accuracy"], 12), -t["weight"]))
    return best["weight"], trials


def reliability_bins(logits: Tensor, targets: Tensor, bins: int = DEFAULT_BINS) -> Tensor:
    """(bins, 3) float64: per confidence bin ((k-1)/bins, k/bins], the count, sum of confidences and number correct.

    Confidence is the top softmax probability of `logits` (divide them by T first for calibrated figures).
    """
    probabilities = torch.softmax(logits.detach().double(), dim=1)
    confidence, predicted = probabilities.max(dim=1)
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    correct = (predicted == targets.to(predicted.device)).double()
    columns = [torch.bincount(index, weights=w, minlength=bins) for w in (None, confidence, correct)]
    return torch.stack([c.double() for c in columns], dim=1).cpu()


def expected_calibration_error(bins: Tensor | np.ndarray | list) -> float:
    """Sum over bins of count / N * |accuracy - mean confidence|, from (count, confidence sum, correct) rows.

    Each term is |correct - confidence sum| / N, so empty bins need no special case.
    """
    table = np.asarray(bins, dtype=np.float64)
    total = table[:, 0].sum()
    if total == 0:
        return 0.0
    return float(np.abs(table[:, 2] - table[:, 1]).sum() / total)
