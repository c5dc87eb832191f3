import pytest

from pcnn_fer.engine.config import load_config
from pcnn_fer.engine.optimization import lr_factor


def test_learning_rate_schedules():
    step = load_config(None, []).schedule
    assert [lr_factor(step, 0.01, e) for e in (0, 14.9, 15, 30)] == [1.0, 1.0, 0.5, 0.25]
    cosine = load_config(None, [("schedule.name", "cosine"), ("schedule.epochs", 10), ("schedule.min_lr", 0.001),
                                ("schedule.warmup_epochs", 2), ("schedule.warmup_factor", 0.1)]).schedule
    assert lr_factor(cosine, 0.01, 0) == pytest.approx(0.1)  # warm-up start
    assert lr_factor(cosine, 0.01, 5) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down the cosine
    assert lr_factor(cosine, 0.01, 10) == pytest.approx(0.1)  # the floor, min_lr / lr
