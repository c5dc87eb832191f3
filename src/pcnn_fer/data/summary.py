"""A dataset as a reader sees it, in a few lines: counts per split and class, label kind, subjects."""

from __future__ import annotations

from collections import Counter, defaultdict

from pcnn_fer.data.sample import SampleSet


def describe(samples: SampleSet) -> str:
    """A table of counts per split and class, then subjects."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for sample in samples:
        counts[sample.tags.get("split", "all")][sample.hard_label] += 1
    splits = [s for s in ("train", "val", "test", "all") if s in counts]
    width = max(len(c) for c in samples.class_names) + 2
    lines = [f"{samples.name}: {len(samples)} samples, {len(samples.class_names)} classes",
             " " * width + "".join(f"{s:>9}" for s in splits) + f"{'total':>9}"]
    for index, name in enumerate(samples.class_names):
        row = [counts[s][index] for s in splits]
        lines.append(f"{name:<{width}}" + "".join(f"{n:>9}" for n in row) + f"{sum(row):>9}")
    totals = "".join(f"{sum(counts[s].values()):>9}" for s in splits)
    lines.append(f"{'total':<{width}}{totals}{len(samples):>9}")
    if any(not isinstance(s.label, int) for s in samples):
        lines.append("labels: distributions (counted by their most probable class)")
    subjects = {s.subject for s in samples if s.subject is not None}
    if subjects:
        lines.append(f"subjects: {len(subjects)}")
    return "\n".join(lines)
