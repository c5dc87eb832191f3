"""Starting a run from another PCNN: all its weights, or all but the class heads when its classes differ."""

from __future__ import annotations

import pytest
import torch

from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.model_setup import PretrainedWeights, model_directory_of, transfer_weights
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.registry import create_model


def _model(classes, seed):
    torch.manual_seed(seed)
    return create_model("pcnn_mbv2", class_names=classes, input_size=32)


def test_another_class_set_takes_every_weight_but_the_class_heads():
    start, model = _model(["a", "b", "c", "d"], 0), _model(["x", "y"], 1)
    fresh = {key: value.clone() for key, value in model.state_dict().items()}
    transfer_weights(start, model, "start")
    given, received = start.state_dict(), model.state_dict()
    taken = [key for key, value in received.items() if value.shape == given[key].shape
             and torch.equal(value, given[key])]
    heads = [key for key, value in received.items() if value.shape != given[key].shape]
    assert heads and all(torch.equal(received[key], fresh[key]) for key in heads)
    assert len(taken) + len(heads) == len(fresh)
    assert all("head" in key for key in heads)


def test_the_same_classes_take_every_weight_and_another_backbone_is_refused():
    start, model = _model(["a", "b"], 0), _model(["a", "b"], 1)
    transfer_weights(start, model, "start")
    given = start.state_dict()
    assert all(torch.equal(v, given[k]) for k, v in model.state_dict().items())
    r18 = create_model("pcnn_r18", class_names=["a", "b"], input_size=32)
    with pytest.raises(ValueError, match="is a mobilenet_v2 model; this run needs resnet18"):
        transfer_weights(start, r18, "start")


def test_shipped_names_and_run_directories_name_models(tmp_path):
    assert model_directory_of("pcnn_mbv2_ferplus") == Pretrained.PCNN_MBV2_FERPLUS.path
    assert model_directory_of("imagenet") is None
    (tmp_path / "run" / "selected").mkdir(parents=True)
    (tmp_path / "run" / "selected" / "config.json").write_text("{}")
    assert model_directory_of(str(tmp_path / "run")) == tmp_path / "run" / "selected"


def test_a_run_can_start_from_the_shipped_ferplus_model():
    model = create_model("pcnn_mbv2", class_names=["anger", "contempt", "disgust"], input_size=64)
    PretrainedWeights("pcnn_mbv2_ferplus", DistContext()).apply(model)
    shipped = Pretrained.PCNN_MBV2_FERPLUS.load()
    torch.testing.assert_close(model.global_trunk[0][0].weight, shipped.global_trunk[0][0].weight)
