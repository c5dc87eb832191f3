"""Distillation targets: the teacher's softened distribution blended into each label, computed once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from shapes import make_shapes

from pcnn_fer.data.mixing import mix_sources, source_of
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.engine import distillation
from pcnn_fer.engine.config import DistillConfig
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.evaluate import EvalOptions
from pcnn_fer.models.registry import create_model


def test_labels_are_blended_with_the_softened_teacher():
    samples = make_shapes(train_per_class=1, test_per_class=0, size=32)
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 4.0, 0.0]], dtype=np.float32)
    blended = distillation.distilled(samples, logits, weight=0.25, temperature=2.0)
    teacher = torch.softmax(torch.from_numpy(logits).double() / 2.0, dim=1).numpy()
    for sample, original, taught in zip(blended.samples, samples.samples, teacher):
        expected = 0.75 * np.eye(3)[original.label] + 0.25 * taught
        np.testing.assert_allclose(sample.label, expected)
        assert sample.key == original.key
    assert all(abs(sum(s.label) - 1) < 1e-9 for s in blended.samples)


def test_teacher_logits_are_computed_once_in_the_datas_class_order(tmp_path, monkeypatch):
    samples = make_shapes(train_per_class=2, test_per_class=0, size=32)
    teacher_dir = tmp_path / "teacher"
    # The teacher knows the same classes in another order: its columns are matched to the data's by name.
    create_model("pcnn_mbv2", class_names=list(reversed(samples.class_names)), input_size=32).save_pretrained(
        teacher_dir)
    calls = []

    def fake_logits(model, chosen, options, context, description):
        calls.append(len(chosen))
        return torch.arange(len(chosen) * 3, dtype=torch.float32).view(-1, 3), None

    monkeypatch.setattr(distillation, "collect_logits", fake_logits)
    config, store = DistillConfig(teacher=str(teacher_dir)), tmp_path / "run" / distillation.TEACHER_LOGITS_FILE
    first = distillation.teacher_logits(config, samples, EvalOptions(), DistContext(), store)
    np.testing.assert_array_equal(first[:, 0], np.arange(len(samples)) * 3 + 2)  # reversed columns
    again = distillation.teacher_logits(config, samples, EvalOptions(), DistContext(), store)
    np.testing.assert_array_equal(first, again)
    assert calls == [len(samples)]  # the second call read the store


def test_a_teacher_of_other_classes_is_refused(tmp_path):
    samples = make_shapes(train_per_class=1, test_per_class=0, size=32)
    create_model("pcnn_mbv2", class_names=["a", "b", "c"], input_size=32).save_pretrained(tmp_path / "t")
    with pytest.raises(ValueError, match="predicts a, b, c"):
        distillation.teacher_logits(DistillConfig(teacher=str(tmp_path / "t")), samples, EvalOptions(),
                                    DistContext(), tmp_path / "store.npz")


def test_the_teacher_teaches_only_on_the_sources_named():
    main = make_shapes(train_per_class=1, test_per_class=0, size=32)
    extra = make_shapes(train_per_class=1, test_per_class=0, size=32)
    extra = SampleSet("ckplus48", extra.class_names, extra.samples)
    mixed = mix_sources(main, [extra])
    logits = np.zeros((len(mixed), 3), dtype=np.float32)
    blended = distillation.distilled(mixed, logits, weight=0.5, temperature=1.0, sources=["shapes"],
                                     main=main.name)
    for sample, original in zip(blended.samples, mixed.samples):
        if source_of(original, main.name) == "ckplus48":
            np.testing.assert_allclose(sample.label, np.eye(3)[original.label])  # its own label, as a distribution
        else:
            np.testing.assert_allclose(sample.label, 0.5 * np.eye(3)[original.label] + 0.5 / 3)
    with pytest.raises(ValueError, match="names rafdb, which is not among the training faces' datasets"):
        distillation.distilled(mixed, logits, weight=0.5, temperature=1.0, sources=["rafdb"], main=main.name)
