import errno
import random

import numpy as np
import pytest
import torch

from pcnn_fer.engine import checkpoint as checkpoint_module
from pcnn_fer.engine.checkpoint import LAST, RunDir, rng_state, set_rng_state
from pcnn_fer.models.registry import create_model


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
    assert loaded.metadata == {"epoch": 1}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
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
    assert state["epoch"] == 1 and loaded.metadata == {"epoch": 1}
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
