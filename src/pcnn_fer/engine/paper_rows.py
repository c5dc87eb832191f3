"""The PCNN paper's result rows for a dataset, scored in one call with the published protocols.

A row names the reader options its labels come from, the challenge list that filters the test split (None: the
whole split), and the paper's figure. FERPlus's challenge lists carry the 2016 `label.csv` majority labels, so
those rows read FERPlus with `votes=label_csv`; its headline row uses the majority of the newer `fer2013new.csv`
votes. The list files are the ones published with the challenge sets (Wang et al., TIP 2020), found by their
published names under the folder given: `ferplus/...`, `rafdb/...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.protocols import official_split
from pcnn_fer.engine.challenge_subsets import read_subset
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.evaluate import MAIN, EvalOptions, evaluate
from pcnn_fer.models.pcnn import PCNN


@dataclass(frozen=True)
class PaperRow:
    """One figure of the paper: which labels, which list, the published accuracy (percent) if any."""

    name: str
    reader_options: dict = field(default_factory=dict)
    subset: str | None = None  # a challenge subset name, as `pcnn-fer eval --subset` names it
    lists: tuple[str, ...] = ()  # its list file(s), relative to the challenge lists folder
    paper: float | None = None


PAPER_ROWS: dict[str, tuple[PaperRow, ...]] = {
    "ferplus": (
        PaperRow("FERPlus Test", {"mode": "majority"}, paper=85.59),
        PaperRow("FERPlus Test, argmax of votes", {"mode": "argmax"}),
        PaperRow("Occlusion-FERPlus", {"mode": "majority", "votes": "label_csv"}, "occlusion-ferplus",
                 ("ferplus/jianfei_occlusion_list.txt",), 84.63),
        PaperRow("FERPlus Pose>30", {"mode": "majority", "votes": "label_csv"}, "pose30-ferplus",
                 ("ferplus/pose_30_ferplus_list.txt",), 88.38),
        PaperRow("FERPlus Pose>45", {"mode": "majority", "votes": "label_csv"}, "pose45-ferplus",
                 ("ferplus/pose_45_ferplus_list.txt",), 87.52),
    ),
    "rafdb": (
        PaperRow("RAF-DB Test", paper=89.31),
        PaperRow("Occlusion-RAF-DB", subset="occlusion-rafdb", lists=("rafdb/rafdb_occlusion_list.txt",),
                 paper=85.56),
        PaperRow("RAF-DB Pose>30", subset="pose30-rafdb",
                 lists=("rafdb/val_raf_db_list.txt", "rafdb/val_raf_db_label.txt"), paper=89.74),
        PaperRow("RAF-DB Pose>45", subset="pose45-rafdb",
                 lists=("rafdb/val_raf_db_list_45.txt", "rafdb/val_raf_db_label_45.txt"), paper=87.28),
    ),
}
RECALL_PREFIX = "recall_"


def paper_rows(dataset: str) -> tuple[PaperRow, ...]:
    """The rows of `dataset`, or an error naming the datasets that have them."""
    if dataset not in PAPER_ROWS:
        raise ValueError(f"the paper's rows are defined for {', '.join(PAPER_ROWS)}; not for {dataset!r}")
    return PAPER_ROWS[dataset]


def score_paper_rows(model: PCNN, dataset: str, data_root: Path, lists: Path, options: EvalOptions,
                     context: DistContext | None = None) -> list[dict]:
    """Each row's faces, accuracy, mean class accuracy, macro-F1 and per-class recall (percent), beside the
    paper's figure; the test split is read once per distinct set of reader options."""
    rows = paper_rows(dataset)
    missing = [lists / name for row in rows for name in row.lists if not (lists / name).is_file()]
    if missing:
        raise FileNotFoundError(f"challenge list(s) not found: {', '.join(map(str, missing))}; --paper-rows takes "
                                f"the folder that holds ferplus/ and rafdb/ with the published list files")
    tests: dict[tuple, object] = {}
    scored = []
    for row in rows:
        key = tuple(sorted(row.reader_options.items()))
        if key not in tests:
            tests[key] = official_split(load_dataset(dataset, data_root, **row.reader_options))["test"]
        chosen = tests[key]
        if row.subset is not None:
            _, subset = read_subset(f"{row.subset}={','.join(str(lists / name) for name in row.lists)}")
            chosen = subset.apply(chosen)
        metrics = evaluate(model, chosen, options, context, description=row.name)[MAIN]
        scored.append({"row": row.name, "faces": metrics["count"], "accuracy": 100 * metrics["accuracy"],
                       "mean_class_accuracy": 100 * metrics["mean_class_accuracy"],
                       "macro_f1": 100 * metrics["macro_f1"], "paper": row.paper,
                       **{RECALL_PREFIX + name: 100 * values["recall"]
                          for name, values in metrics["per_class"].items()}})
    return scored
