"""Seeing what happened: a summary table, curves, confusion matrices, reliability diagrams and a Markdown
report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pcnn_fer.atomic import atomic_path
from pcnn_fer.engine.calibration import expected_calibration_error
from pcnn_fer.engine.checkpoint import (
    CURVES_FILE,
    METRICS_FILE,
    METRICS_TABLE,
    PLOTS_DIR,
    RECIPE_FILE,
    REPORT_FILE,
    RESULT_FILE,
    SUMMARY_FILE,
)
from pcnn_fer.engine.fold_result import FoldResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pcnn_fer.engine.checkpoint import RunDir
    from pcnn_fer.engine.config import TrainConfig


def format_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A plain-text table of `columns` (missing values blank, columns blank in every row left out; floats to 4
    places)."""
    columns = [c for c in columns if any(row.get(c) is not None for row in rows)] if rows else list(columns)

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def markdown_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A GitHub-flavoured markdown table; floats shown with four decimals."""
    def cell(value: object) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def curves_figure(history: Sequence[dict]) -> Figure:
    """Loss and accuracy per epoch, train against val (and test when it was watched), epochs as whole numbers."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    figure = Figure(figsize=(10, 4))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    for split, style in (("train", "-o"), ("val", "-s"), ("test", "--^")):
        for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            values = [r.get(f"{split}_{metric}") for r in history]
            if any(v is not None for v in values):
                axis.plot(epochs, [np.nan if v is None else v for v in values], style, label=split, markersize=3)
    for axis, title in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def plot_curves(history: Sequence[dict], path: Path) -> Path:
    """curves_figure saved as `path`."""
    return _save(curves_figure(history), path)


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """The confusion matrix as a heat map, rows normalised to recall, with the raw counts written in.

    The colour bar says so: a cell's colour is its share of the true class, not its count.
    """
    from matplotlib.figure import Figure

    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    size = max(4.0, 0.7 * len(class_names) + 2)
    figure = Figure(figsize=(size + 1.0, size))
    axis = figure.subplots()
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04,
                    label="colour: share of each true class (row-normalised)")
    for (row, column), count in np.ndenumerate(confusion):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if rates[row, column] > 0.5 else "black", fontsize=8)
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], path: Path, title: str) -> Path:
    """confusion_figure saved as `path`."""
    return _save(confusion_figure(confusion, class_names, title), path)


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as partial:
        figure.savefig(partial, dpi=100, format=path.suffix.lstrip(".") or "png")
    return path


def plot_reliability(curves: Mapping[str, Sequence[Sequence[float]] | np.ndarray], path: Path, title: str) -> Path:
    """A reliability diagram: accuracy per confidence bin against the diagonal, the samples per bin below.

    `curves` maps a label (e.g. "T = 1") to its (count, confidence sum, correct) bins; each is drawn with its
    ECE in the legend, so the figures before and after calibration can be compared on one plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (axis, counts_axis) = plt.subplots(2, 1, figsize=(5, 6), sharex=True,
                                               gridspec_kw={"height_ratios": (3, 1)})
    axis.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    for i, (label, bins) in enumerate(curves.items()):
        table = np.asarray(bins, dtype=float)
        width = 1 / len(table)
        lefts = np.arange(len(table)) * width
        filled = table[:, 0] > 0
        axis.bar(lefts[filled], table[filled, 2] / table[filled, 0], width=width, align="edge", alpha=0.45,
                 color=f"C{i}", edgecolor=f"C{i}", label=f"{label}: ECE {expected_calibration_error(table):.3f}")
        counts_axis.bar(lefts, table[:, 0], width=width, align="edge", alpha=0.45, color=f"C{i}",
                        edgecolor=f"C{i}")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_ylabel("accuracy")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    counts_axis.set_xlabel("confidence (top softmax probability)")
    counts_axis.set_ylabel("samples")
    counts_axis.grid(alpha=0.3)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path


class TensorBoardLog:
    """Scalars to TensorBoard when the tensorboard package is installed; otherwise nothing."""

    def __init__(self, directory: Path, enabled: bool = True) -> None:
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                return
            self.writer = SummaryWriter(str(directory))

    def scalars(self, record: dict, step: int) -> None:
        """Log every number of an epoch record at `step` (nothing without TensorBoard)."""
        if self.writer is None:
            return
        for key, value in record.items():
            if isinstance(value, (int, float)) and key != "epoch":
                self.writer.add_scalar(key.replace("_", "/", 1), value, step)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()


_HEADLINE = ("accuracy", "mean_class_accuracy", "macro_f1")


def write_fold_report(run: RunDir, config: TrainConfig, result: FoldResult, history: Sequence[dict]) -> Path:
    """report.md of one run (or fold): what was trained, how it was selected, test metrics, plots."""
    lines = [f"# {config.data.dataset} · {config.model.variant}{' · ' + result.fold if result.fold else ''}",
             "", f"- protocol: {config.data.protocol}; train {result.train_samples}, "
             f"val {result.val_samples}, test {result.test_samples} samples",
             f"- {config.schedule.epochs} epochs, {config.optim.name} lr {config.optim.lr}, "
             f"batch {config.data.batch_size}, input {config.model.input_size} px, seed {config.misc.seed}",
             f"- kept epoch {result.selected_epoch}: {result.selection}", ""]
    if result.test is not None:
        lines += ["## Test", "", markdown_table(
            [[head, *(metrics[m] for m in _HEADLINE)] for head, metrics in result.test.items()],
            ["head", *_HEADLINE]), ""]
        calibration = calibration_summary(result.test["main"], result.calibration)
        if calibration:
            lines += [f"- calibration (main head): {calibration}", ""]
        images = {"confusion": result.confusion_images, "reliability": result.reliability_images}
        lines += [f"![{kind} ({head})]({Path(p).relative_to(run.path)})"
                  for kind, paths in images.items() for head, p in paths.items()]
        lines.append("")
    recipe = f"{'../' if result.fold else ''}{RECIPE_FILE}"
    lines += ["## Training curves", "", f"![curves]({PLOTS_DIR}/{CURVES_FILE})", "",
              f"Per-epoch figures: [{METRICS_TABLE}]({METRICS_TABLE}), [{METRICS_FILE}]({METRICS_FILE}); "
              f"recipe: [{RECIPE_FILE}]({recipe}).", ""]
    if history:
        lines += ["```", format_table(history, [c for c in ("epoch", "train_loss", "train_accuracy", "val_accuracy",
                                                            "test_accuracy") if c in history[-1]]), "```", ""]
    return run.write_text(REPORT_FILE, "\n".join(lines))


def calibration_summary(metrics: dict, calibration: dict | None = None) -> str:
    """One line on a head's calibration (ECE and NLL, before and after temperature scaling); "" without figures.

    `calibration` is the fit as a model's metadata keeps it, to say where the temperature comes from.
    """
    if "ece" not in metrics:
        return ""
    if "ece_calibrated" not in metrics:
        return f"ECE {metrics['ece']:.4f}, NLL {metrics['nll']:.4f} (uncalibrated)"
    fitted = ""
    if calibration is not None:
        split = calibration["fitted_on"]
        fitted = (f" fitted on {split} ({split} NLL {calibration[f'{split}_nll']:.4f} → "
                  f"{calibration[f'{split}_nll_calibrated']:.4f})")
    return (f"temperature {metrics['temperature']:.4g}{fitted}: ECE {metrics['ece']:.4f} → "
            f"{metrics['ece_calibrated']:.4f}, NLL {metrics['nll']:.4f} → {metrics['nll_calibrated']:.4f}")


def headline(run: Path) -> str:
    """One line on what a finished run scored on test: the main head's accuracy, or its mean over folds."""
    summary, result = run / SUMMARY_FILE, run / RESULT_FILE
    if summary.is_file():
        document = json.loads(summary.read_text())
        main = document.get("heads", {}).get("main")
        if main is None:
            return f"no fold was tested ({document['folds']} fold(s) trained)"
        accuracy = main["accuracy"]
        scored = f"{accuracy['mean']:.4f} ± {accuracy['std']:.4f} over {document['folds']} fold(s)"
    else:
        main = (FoldResult.read(result).test or {}).get("main")
        if main is None:
            return "no test split: the selected model was not tested"
        scored = f"{main['accuracy']:.4f} on {main['count']} samples"
    return f"test accuracy (main head): {scored}; {majority_baseline(main['confusion'], main['class_names'])}"


def majority_baseline(confusion: Sequence[Sequence[int]], class_names: Sequence[str]) -> str:
    """What always answering the commonest true class would score: the floor an accuracy is read against."""
    support = np.asarray(confusion).sum(axis=1)
    commonest = int(support.argmax())
    share = support[commonest] / max(int(support.sum()), 1)
    return f"always answering '{class_names[commonest]}' would score {share:.4f}"


def write_cv_report(run: RunDir, config: TrainConfig, results: Sequence[FoldResult], summary: dict) -> Path:
    """report.md of a cross-validation run: each fold, mean ± std, the confusion summed over folds."""
    lines = [f"# {config.data.dataset} · {config.model.variant} · {config.data.protocol}", "",
             f"{summary['folds']} folds; each fold's model kept by: {results[0].selection}.", "",
             markdown_table([[f"[{r.fold}]({r.fold}/{REPORT_FILE})", r.test_samples, r.selected_epoch,
                              *((r.test["main"][m] for m in _HEADLINE) if r.test else ("",) * 3)]
                             for r in results], ["fold", "test samples", "epoch", *_HEADLINE]), ""]
    for head, stats in summary.get("heads", {}).items():
        lines.append(f"- **{head}**: " + ", ".join(
            f"{m} {stats[m]['mean']:.4f} ± {stats[m]['std']:.4f}" for m in _HEADLINE))
        image = plot_confusion(np.array(stats["confusion"]), stats["class_names"],
                               run.plots / f"confusion_all_folds_{head.replace('*', 'x').replace('+', '_plus_')}.png",
                               f"{head}, all folds")
        lines += ["", f"![confusion over all folds]({image.relative_to(run.path)})", ""]
    return run.write_text(REPORT_FILE, "\n".join(lines))
