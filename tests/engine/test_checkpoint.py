import errno
import random

import numpy as np
import pytest
import torch

from pcnn_fer.engine import checkpoint as checkpoint_module
from pcnn_fer.engine.checkpoint import LAST, SELECTED, RunDir, fold_name, rng_state, set_rng_state
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.registry import create_model
from pcnn_fer.models.resolve import resolve_model


@pytest.fixture(scope="module")
def model():
    return create_model("pcnn_mbv2", num_classes=3, input_size=64)


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    torch.save({"rng": rng_state()}, tmp_path / "state.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    set_rng_state(torch.load(tmp_path / "state.pt", weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_checkpoint_holds_model_and_training_state(tmp_path, model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 0.01)
    optimizer.step()  # momentum buffers now exist
    run = RunDir(tmp_path).create()
    run.save_checkpoint(LAST, model, {"epoch": 1}, {"epoch": 1, "optimizer": optimizer.state_dict()})
    loaded, state = run.load_state(LAST)
    assert state["epoch"] == 1
    assert loaded.metadata == ModelMetadata(epoch=1)
    restored_state = loaded.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(restored_state[key], value)
    restored = torch.optim.SGD(loaded.parameters(), lr=0.1, momentum=0.9)
    restored.load_state_dict(state["optimizer"])


def test_disk_full_while_writing_leaves_the_previous_checkpoint(tmp_path, model, monkeypatch):
    run = RunDir(tmp_path).create()
    run.save_checkpoint(LAST, model, {"epoch": 1}, {"epoch": 1})

    def full_disk(obj, path):
        with open(path, "wb") as handle:
            handle.write(b"partial bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run.save_checkpoint(LAST, model, {"epoch": 2}, {"epoch": 2})
    monkeypatch.undo()
    loaded, state = run.load_state(LAST)
    assert state["epoch"] == 1 and loaded.metadata == ModelMetadata(epoch=1)
    assert not (tmp_path / "last.partial").exists()


def test_a_checkpoint_caught_between_the_two_renames_is_recovered(tmp_path, model):
    run = RunDir(tmp_path).create()
    run.save_checkpoint(LAST, model, {"epoch": 1}, {"epoch": 1})
    (tmp_path / "last").rename(tmp_path / "last.previous")
    _, state = run.load_state(LAST)
    assert state["epoch"] == 1


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no resumable checkpoint"):
        RunDir(tmp_path).load_state(LAST)


def test_a_last_checkpoint_without_weights_takes_them_from_selected(tmp_path, model):
    run = RunDir(tmp_path).create()
    run.save_checkpoint(LAST, model, {"epoch": 2}, {"epoch": 2})
    run.save_checkpoint(SELECTED, model, {"epoch": 2, "kept": True})
    run.drop_model(LAST)
    assert sorted(p.name for p in (tmp_path / LAST).iterdir()) == ["training_state.pt"]
    assert run.checkpoint_path(LAST) == tmp_path / SELECTED
    loaded, state = run.load_state(LAST)
    assert state["epoch"] == 2 and loaded.metadata == ModelMetadata(epoch=2, extra={"kept": True})
    assert resolve_model(tmp_path) == tmp_path / SELECTED


def test_without_a_training_state_last_is_not_borrowed_from_selected(tmp_path, model):
    run = RunDir(tmp_path).create()
    run.save_checkpoint(SELECTED, model, {})
    assert run.checkpoint_path(LAST) is None


def test_fold_runs_lists_the_folds_holding_a_selected_model_in_order(tmp_path, model):
    for index in (2, 1, 3):
        RunDir(tmp_path / fold_name(index)).create()
    for index in (2, 1):
        RunDir(tmp_path / fold_name(index)).save_checkpoint(SELECTED, model, {})
    assert [fold.path.name for fold in RunDir(tmp_path).fold_runs()] == ["fold_01", "fold_02"]
