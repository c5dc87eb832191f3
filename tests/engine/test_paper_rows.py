"""The paper's rows: which labels and lists each row scores, on the real FERPlus files, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcnn_fer.engine import paper_rows
from pcnn_fer.engine.evaluate import EvalOptions
from pcnn_fer.models.registry import create_model


def test_rows_exist_only_for_the_papers_datasets():
    assert [row.paper for row in paper_rows.paper_rows("ferplus")] == [85.59, None, 84.63, 88.38, 87.52]
    with pytest.raises(ValueError, match="defined for ferplus, rafdb"):
        paper_rows.paper_rows("jaffe")


def test_missing_lists_are_named_before_anything_is_scored(tmp_path):
    with pytest.raises(FileNotFoundError, match="jianfei_occlusion_list.txt"):
        paper_rows.score_paper_rows(create_model("pcnn_mbv2", num_classes=8), "ferplus", tmp_path, tmp_path,
                                    EvalOptions())


def test_each_ferplus_row_scores_its_published_faces(shared_ferplus: Path, shared_data: Path, monkeypatch):
    """Counts of the faces each row scores: the majority test split, the argmax protocol, then the three lists
    read against the label.csv majority (the model is not run: the faces handed to it are counted)."""
    handed = []

    def counting(model, samples, options, context, description):
        handed.append((description, len(samples)))
        per_class = {name: {"recall": 0.0} for name in samples.class_names}
        return {"main": {"count": len(samples), "accuracy": 0.5, "mean_class_accuracy": 0.5, "macro_f1": 0.5,
                         "per_class": per_class}}

    monkeypatch.setattr(paper_rows, "evaluate", counting)
    rows = paper_rows.score_paper_rows(None, "ferplus", shared_ferplus, shared_data / "challenge_lists",
                                       EvalOptions())
    assert handed == [("FERPlus Test", 3153), ("FERPlus Test, argmax of votes", 3546), ("Occlusion-FERPlus", 605),
                      ("FERPlus Pose>30", 1170), ("FERPlus Pose>45", 633)]
    assert rows[0]["accuracy"] == 50.0 and rows[0]["paper"] == 85.59 and "recall_contempt" in rows[0]
