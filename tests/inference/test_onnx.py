"""ONNX export: parity with torch, dynamic batch, config in the file, and the onnxruntime backend."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import onnx
import pytest
import torch

from pcnn_fer.inference import onnx as onnx_module
from pcnn_fer.inference.onnx import (
    CONFIG_KEY,
    DEFAULT_OPSET,
    ONNX_FILE,
    WEIGHTS_KEY,
    OnnxModel,
    check_parity,
    export_onnx,
)
from pcnn_fer.inference.recognizer import Recognizer, SmallBatchesOnOnnx
from pcnn_fer.models import create_model
from pcnn_fer.models.state import weights_fingerprint
from pcnn_fer.models.storage import WEIGHTS_FILE, load_model


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.mark.slow  # a real ONNX export
@pytest.mark.parametrize("batch", [1, 3])
def test_every_output_matches_torch_at_any_batch_size(model, exported, batch):
    images = torch.randn(batch, 3, 96, 96, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        expected = model(images)
    actual = OnnxModel(exported, threads=1)(images)
    for name in expected._fields:
        difference = float((getattr(actual, name) - getattr(expected, name)).abs().max())
        assert getattr(actual, name).shape == getattr(expected, name).shape
        assert difference <= 1e-4, f"{name} differs by {difference}"
    assert float(expected.logits.std()) > 0.05  # the comparison is not between near-constant outputs


@pytest.mark.slow  # a real ONNX export
def test_the_file_states_its_opset_dynamic_batch_and_config(model, exported):
    proto = onnx.load(str(exported))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [DEFAULT_OPSET]
    batch_axis = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param and not batch_axis.dim_value
    assert [o.name for o in proto.graph.output] == ["logits", "organ_logits", "per_organ_logits", "theta"]
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(metadata[CONFIG_KEY]) == json.loads(json.dumps(model.config.to_dict()))
    assert OnnxModel(exported, threads=1).config == model.config
    assert metadata[WEIGHTS_KEY] == weights_fingerprint(model.state_dict())
    assert OnnxModel(exported, threads=1).weights_fingerprint == metadata[WEIGHTS_KEY]


def test_the_weights_fingerprint_follows_every_value_but_not_the_storage_type(model):
    state = model.state_dict()
    assert weights_fingerprint({k: v.clone() for k, v in state.items()}) == weights_fingerprint(state)
    as_double = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    assert weights_fingerprint(as_double) == weights_fingerprint(state)
    key = next(k for k, v in state.items() if v.is_floating_point())
    nudged = dict(state, **{key: state[key] + 1e-3})
    assert weights_fingerprint(nudged) != weights_fingerprint(state)


@pytest.mark.slow  # a real ONNX export
def test_check_parity_refuses_an_export_that_answers_differently(model, exported):
    onnx_model = OnnxModel(exported, threads=1)
    assert check_parity(model, onnx_model, "tiny.onnx") <= 1e-4
    other = create_model("pcnn_r18", class_names=model.class_names, input_size=model.config.input_size).eval()
    with pytest.raises(RuntimeError, match="tiny.onnx: onnxruntime logits differ"):
        check_parity(other, onnx_model, "tiny.onnx")


@pytest.mark.slow  # a real ONNX export
def test_the_recognizer_gives_the_same_answers_on_either_backend(model, exported):
    crops = [np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8) for seed in range(3)]
    on_torch = Recognizer(model, detector=None).predict_batch(crops)
    on_onnx = Recognizer(model, detector=None, backend="onnx",
                         onnx_model=OnnxModel(exported, threads=1)).predict_batch(crops)
    for (a,), (b,) in zip(on_torch, on_onnx):
        assert a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
        assert a.organ_contributions == pytest.approx(b.organ_contributions, abs=1e-5)


@pytest.mark.slow  # a real ONNX export
def test_from_pretrained_uses_the_directorys_model_onnx_and_refuses_a_foreign_one(tiny_model_dir, exported,
                                                                                  tmp_path):
    directory = shutil.copytree(tiny_model_dir, tmp_path / "model")
    shutil.copy(exported, directory / ONNX_FILE)
    recognizer = Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1)
    assert isinstance(recognizer._forward, OnnxModel)
    proto = onnx.load(str(exported))
    entry = next(p for p in proto.metadata_props if p.key == CONFIG_KEY)
    entry.value = json.dumps({**json.loads(entry.value), "input_size": 112})
    onnx.save(proto, str(directory / ONNX_FILE))
    with pytest.raises(ValueError, match="not exported from the weights"):
        Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1)


def _retrained(tiny_model_dir, tmp_path):
    """A copy of the tiny model directory whose weights differ from the exported file's (same config)."""
    from safetensors.torch import load_file, save_file

    directory = shutil.copytree(tiny_model_dir, tmp_path / "retrained")
    tensors = load_file(directory / WEIGHTS_FILE)
    key = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[key] = tensors[key] + 0.01
    save_file(tensors, directory / WEIGHTS_FILE, metadata={"format": "pt"})
    return directory


@pytest.mark.slow  # a real ONNX export
def test_a_stale_model_onnx_from_other_weights_is_refused_until_an_export_is_asked_for(tiny_model_dir, exported,
                                                                                      tmp_path, monkeypatch):
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    retrained = _retrained(tiny_model_dir, tmp_path)
    shutil.copy(exported, retrained / ONNX_FILE)  # exported before the weights changed
    with pytest.raises(ValueError, match="not exported from the weights in .*retrained.*--export-onnx"):
        Recognizer.from_pretrained(retrained, detector=None, backend="onnx", threads=1)
    # An asked-for export replaces the stale file beside the model; the module's export of these very weights
    # stands in for the exporter (tens of seconds), and the parity check still runs on it.
    directory = shutil.copytree(tiny_model_dir, tmp_path / "model")
    proto = onnx.load(str(exported))
    next(p for p in proto.metadata_props if p.key == WEIGHTS_KEY).value = "0" * 64
    onnx.save(proto, str(directory / ONNX_FILE))
    with pytest.raises(ValueError, match="not exported from the weights"):
        Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1)
    monkeypatch.setattr(onnx_module, "export_onnx", lambda model, path: shutil.copy(exported, path))
    recognizer = Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1, export_onnx=True)
    assert recognizer._forward.weights_fingerprint == weights_fingerprint(load_model(directory).state_dict())
    assert OnnxModel(directory / ONNX_FILE).weights_fingerprint == recognizer._forward.weights_fingerprint
    assert not list((tmp_path / "cache").rglob("*.onnx"))  # the stale file beside the model was replaced, not bypassed


@pytest.mark.slow  # a real ONNX export
def test_without_an_export_nothing_is_exported_unless_asked_and_an_asked_export_is_kept(tiny_model_dir, exported,
                                                                                       tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PCNN_FER_CACHE", str(cache))
    directory = shutil.copytree(tiny_model_dir, tmp_path / "model")
    with pytest.raises(ValueError, match="has no ONNX export yet: add --export-onnx"):
        Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1)
    assert not cache.exists()
    # An asked-for export goes into the cache under the weights' fingerprint (the model directory may be a
    # package's, which is not ours to write into); here the test's earlier export stands in for it.
    written = []
    monkeypatch.setattr(onnx_module, "export_onnx", lambda model, path: written.append(path) or
                        shutil.copy(exported, path))
    (cache / "onnx").mkdir(parents=True)
    first = Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1, export_onnx=True)
    fingerprint = weights_fingerprint(load_model(directory).state_dict())
    assert written == [cache / "onnx" / f"{fingerprint}.onnx"]
    again = Recognizer.from_pretrained(directory, detector=None, backend="onnx", threads=1)
    assert written == [cache / "onnx" / f"{fingerprint}.onnx"]  # found, not exported again
    assert isinstance(first._forward, OnnxModel) and isinstance(again._forward, OnnxModel)


@pytest.mark.slow  # a real ONNX export
def test_a_model_without_organ_branches_exported_in_memory_for_the_recognizer():
    model = create_model("pcnn_r18", num_classes=3, input_size=64, organs=False).eval()
    recognizer = Recognizer(model, detector=None, backend="onnx", threads=1)  # no file: exported in memory
    assert isinstance(recognizer._forward, OnnxModel)
    images = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        expected = model(images)
    actual = recognizer._forward(images)
    assert actual.organ_logits is None and actual.per_organ_logits is None
    assert float((actual.logits - expected.logits).abs().max()) <= 1e-4
    np.testing.assert_allclose(actual.theta.numpy(), expected.theta.numpy())
    crop = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    (face,) = recognizer.predict(crop)
    (reference,) = Recognizer(model, detector=None).predict(crop)
    assert face.organ_contributions == {} and face.probabilities == pytest.approx(reference.probabilities, abs=1e-5)


def test_unreadable_files_are_refused_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        OnnxModel(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        OnnxModel(garbage)
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["images"], ["logits"])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([node], "g", [value("images", onnx.TensorProto.FLOAT, [1, 3])],
                                   [value("logits", onnx.TensorProto.FLOAT, [1, 3])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]), str(foreign))
    with pytest.raises(ValueError, match=CONFIG_KEY):
        OnnxModel(foreign)


@pytest.mark.slow  # a real ONNX export
def test_auto_takes_onnxruntime_from_an_export_of_these_weights_and_torch_without_one(tiny_model_dir, exported,
                                                                                      tmp_path, monkeypatch):
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    directory = shutil.copytree(tiny_model_dir, tmp_path / "model")
    without = Recognizer.from_pretrained(directory, detector=None, threads=1)  # auto, and no export: torch
    assert not isinstance(without._forward, SmallBatchesOnOnnx | OnnxModel)
    assert not list((tmp_path / "cache").rglob("*.onnx"))
    shutil.copy(exported, directory / ONNX_FILE)
    with_export = Recognizer.from_pretrained(directory, detector=None, threads=1)
    assert isinstance(with_export._forward.onnx_model, OnnxModel)
    assert with_export.runtime == "onnxruntime up to 16 faces per call, torch above" and without.runtime == "torch"
    on_torch = Recognizer.from_pretrained(directory, detector=None, backend="torch", threads=1)
    assert not isinstance(on_torch._forward, SmallBatchesOnOnnx | OnnxModel)


@pytest.mark.slow  # a real ONNX export
def test_auto_runs_small_batches_in_onnxruntime_and_large_ones_in_torch(model, exported):
    onnx_model = OnnxModel(exported, threads=1)
    calls = []
    recognizer = Recognizer(model, detector=None, backend="auto", onnx_model=onnx_model, batch_size=64)
    forward = recognizer._forward
    forward.onnx_model = lambda batch: calls.append(("onnx", len(batch))) or onnx_model(batch)
    crops = [np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8) for seed in range(20)]
    small = recognizer.predict_batch(crops[:16])
    large = recognizer.predict_batch(crops)
    assert calls == [("onnx", 16)] and forward._torch is not None  # the 20 faces went to torch
    for (one,), (other,) in zip(small, large[:16]):
        assert one.probabilities == pytest.approx(other.probabilities, abs=1e-4)


@pytest.mark.slow  # a real ONNX export
def test_auto_exports_a_shipped_model_once_and_processes_exporting_at_once_take_turns(tiny_model_dir, exported,
                                                                                     tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from pcnn_fer.inference.onnx import fastest_runtime
    from pcnn_fer.models import pretrained

    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    directory = shutil.copytree(tiny_model_dir, tmp_path / "shipped")
    monkeypatch.setattr(pretrained.PretrainedEntry, "path", property(lambda entry: directory))
    written = []

    def slow_export(model, path):  # the module's export of these weights stands in for the exporter
        written.append(path)
        time.sleep(0.5)
        shutil.copy(exported, path)

    monkeypatch.setattr(onnx_module, "export_onnx", slow_export)
    model = load_model(directory)
    with ThreadPoolExecutor(3) as pool:
        runtimes = list(pool.map(lambda _: fastest_runtime(model, directory, threads=1, show_progress=False), range(3)))
    assert all(isinstance(runtime, OnnxModel) for runtime in runtimes)
    assert len(written) == 1  # the others waited and found it
