"""A person's timeline as a picture: each expression's probability over time, and the label band under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pcnn_fer.atomic import atomic_path
from pcnn_fer.report.timeline import Timeline

# The plot area's left and right edges, as fractions of the image's width: the page maps a click there to a time.
PLOT_LEFT, PLOT_RIGHT = 0.07, 0.83


def expression_colors(class_names: tuple[str, ...]) -> dict[str, tuple[float, float, float, float]]:
    """One colour per expression, the same in every plot of a report."""
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {name: palette(k % 10) for k, name in enumerate(class_names)}


def plot_timeline(timeline: Timeline, target: Path) -> Path:
    """Write the timeline of one person as a PNG at `target`: probabilities over time above, the label band
    below, the time axis shared."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.colors import ListedColormap

    colors = expression_colors(timeline.class_names)
    figure, (curves, band) = plt.subplots(2, 1, figsize=(11, 3.6), sharex=True,
                                          gridspec_kw={"height_ratios": [5, 1], "hspace": 0.08})
    figure.subplots_adjust(left=PLOT_LEFT, right=PLOT_RIGHT, top=0.9, bottom=0.15)
    for k, name in enumerate(timeline.class_names):
        curves.plot(timeline.times, timeline.probabilities[:, k], color=colors[name], linewidth=1.4, label=name)
    curves.set_ylim(-0.03, 1.03)  # a probability at 0 or 1 stays visible off the frame
    curves.set_ylabel("probability")
    curves.set_title(f"{Path(timeline.input).name}: person {timeline.track}", fontsize=10, loc="left")
    curves.legend(loc="center left", bbox_to_anchor=(1.01, 0.45), fontsize=8, frameon=False)
    curves.grid(alpha=0.3)
    step = timeline.step or 1.0
    edges = np.append(timeline.times, timeline.times[-1] + step)
    band.pcolormesh(edges, [0, 1], timeline.labels[np.newaxis, :],
                    cmap=ListedColormap([colors[name] for name in timeline.class_names]),
                    vmin=-0.5, vmax=len(timeline.class_names) - 0.5)
    band.set_yticks([])
    band.set_ylabel("label", rotation=0, ha="right", va="center")
    band.set_xlabel("time (s)")
    band.set_xlim(edges[0], edges[-1])
    with atomic_path(target) as partial:
        figure.savefig(partial, dpi=100, format="png")
    plt.close(figure)
    return target
