import logging

from shapes import make_shapes

from pcnn_fer.engine.config import load_config
from pcnn_fer.engine.folds import plan_folds, warn_small_validation


def test_a_validation_part_too_small_to_select_on_is_warned_about(caplog):
    samples = make_shapes(train_per_class=40, test_per_class=1, size=32)
    for fraction, warned in ((0.1, True), (0.5, False)):
        config = load_config(None, [("misc.select", "val"), ("data.val_fraction", fraction)])
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            warn_small_validation(config, plan_folds(config, samples))
        assert ("too few to select an epoch on" in caplog.text) == warned


def test_cross_validation_folds_are_named_in_order_and_run_folds_picks_among_them():
    samples = make_shapes(train_per_class=2, test_per_class=2, size=32, subjects=4)
    config = load_config(None, [("data.protocol", "random_kfold"), ("data.folds", 3), ("misc.select", "last")])
    assert [fold.name for fold in plan_folds(config, samples)] == ["fold_01", "fold_02", "fold_03"]
    config.set("data.run_folds", [3, 1])
    assert [fold.name for fold in plan_folds(config, samples)] == ["fold_01", "fold_03"]
