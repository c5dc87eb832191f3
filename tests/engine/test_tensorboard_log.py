from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from pcnn_fer.engine.reporting import TensorBoardLog


def test_epoch_records_become_tensorboard_scalars(tmp_path):
    board = TensorBoardLog(tmp_path / "tb")
    board.scalars({"epoch": 1, "train_loss": 2.5, "val_accuracy": 0.25, "note": "text is not a scalar"}, 1)
    board.scalars({"epoch": 2, "train_loss": 1.5, "val_accuracy": 0.75}, 2)
    board.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["train/loss", "val/accuracy"]
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 2.5), (2, 1.5)]
    assert [e.value for e in events.Scalars("val/accuracy")] == [0.25, 0.75]


def test_a_disabled_log_writes_nothing(tmp_path):
    board = TensorBoardLog(tmp_path / "tb", enabled=False)
    board.scalars({"epoch": 1, "train_loss": 2.5}, 1)
    board.close()
    assert not (tmp_path / "tb").exists()
