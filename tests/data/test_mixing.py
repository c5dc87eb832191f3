"""Mixing datasets: relabelled into the main classes, keys kept apart, each source drawn at its share."""

from __future__ import annotations

import numpy as np
import pytest

from pcnn_fer.data.mixing import SOURCE_TAG, draw_weights, mix_sources
from pcnn_fer.data.sample import Sample, SampleSet

MAIN_CLASSES = ("neutral", "happiness", "sadness", "anger")


def _set(name, classes, labels, split=True):
    tags = {"split": "train"} if split else {}
    return SampleSet(name, classes, [Sample(np.zeros((4, 4), np.uint8), label, f"{i}", f"S{i}", dict(tags))
                                     for i, label in enumerate(labels)])


def test_extra_sources_speak_the_main_classes_and_keep_their_own_keys():
    main = _set("web", MAIN_CLASSES, [0, 0, 1, 2])
    lab = _set("lab", ("anger", "happiness"), [0, 1])
    mixed = mix_sources(main, [lab])
    assert mixed.name == "web+lab" and mixed.class_names == MAIN_CLASSES and len(mixed) == 6
    extra = mixed.samples[4:]
    assert [s.label for s in extra] == [3, 1]  # anger -> 3, happiness -> 1 in the main order
    assert [s.key for s in extra] == ["lab:0", "lab:1"] and {s.tags[SOURCE_TAG] for s in extra} == {"lab"}
    assert all(SOURCE_TAG not in s.tags for s in mixed.samples[:4])


def test_hard_labels_become_one_hot_when_the_main_labels_are_distributions():
    main = _set("web", MAIN_CLASSES, [(0.5, 0.5, 0.0, 0.0)])
    mixed = mix_sources(main, [_set("lab", ("anger",), [0])])
    assert mixed.samples[1].label == (0.0, 0.0, 0.0, 1.0)


def test_a_source_with_an_unknown_class_or_without_a_split_is_refused():
    main = _set("web", MAIN_CLASSES, [0])
    with pytest.raises(ValueError, match=r"\['contempt'\] are not among web's"):
        mix_sources(main, [_set("lab", ("contempt",), [0])])
    with pytest.raises(ValueError, match="lab has no train/val/test split .* val_subjects, test_subjects"):
        mix_sources(main, [_set("lab", ("anger",), [0], split=False)])
    with pytest.raises(ValueError, match=r"\['web'\] mixed in twice"):
        mix_sources(main, [_set("web", ("anger",), [0])])


def test_each_source_is_drawn_at_its_share_and_classes_even_out_inside_it():
    mixed = mix_sources(_set("web", MAIN_CLASSES, [0] * 90 + [1] * 6), [_set("lab", ("anger", "happiness"), [0, 0, 1])])
    assert draw_weights(mixed) is None
    weights = draw_weights(mixed, {"lab": 0.25})
    sources = np.array([s.tags.get(SOURCE_TAG, "") for s in mixed])
    assert weights.sum() == pytest.approx(1.0) and weights[sources == "lab"].sum() == pytest.approx(0.25)
    natural = draw_weights(mixed, {"lab": 0.0}, balanced=True)  # lab at its share by count, 3 of 99
    assert natural[sources == "lab"].sum() == pytest.approx(3 / 99)
    labels = np.array([s.hard_label for s in mixed])
    web = sources == ""
    assert natural[web & (labels == 0)].sum() == pytest.approx(natural[web & (labels == 1)].sum())
    assert natural[(sources == "lab") & (labels == 3)].sum() == pytest.approx(natural[(sources == "lab") &
                                                                                      (labels == 1)].sum())


def test_shares_that_leave_nothing_or_name_an_absent_source_are_refused():
    mixed = mix_sources(_set("web", MAIN_CLASSES, [0, 1]), [_set("lab", ("anger",), [0])])
    with pytest.raises(ValueError, match="leave nothing for the main dataset"):
        draw_weights(mixed, {"lab": 1.0})
    with pytest.raises(ValueError, match=r"no training samples from mixed source\(s\) \['jaffe'\]"):
        draw_weights(mixed, {"jaffe": 0.1})
