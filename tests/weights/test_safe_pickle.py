"""The safe loader: plain checkpoints load, unknown classes stay inert, hostile pickles are refused unrun."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import types
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from pcnn_fer.weights.reference import import_reference_checkpoint
from pcnn_fer.weights.safe_pickle import StandIn, UnsafeCheckpointError, safe_load


class _Payload:
    """Unpickling this calls `function(argument)`: what a hostile checkpoint does."""

    def __init__(self, function, argument) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def _hostile_checkpoint(path: Path, marker: Path, function, zip_format: bool = True) -> Path:
    argument = {
        os.system: f"touch {marker}",
        subprocess.call: ["touch", str(marker)],
        builtins.eval: f"open({str(marker)!r}, 'w').close()",
    }[function]
    checkpoint = {"epoch": 3, "state_dict": OrderedDict(w=torch.ones(2)), "recorder": _Payload(function, argument)}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    return path


def test_the_hostile_file_really_runs_a_command_when_loaded_unsafely(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = _hostile_checkpoint(tmp_path / "hostile.pth", marker, os.system)
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(path)!r}, weights_only=False)"],
                   check=True, capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("function", [os.system, subprocess.call, builtins.eval], ids=["system", "subprocess", "eval"])
def test_hostile_checkpoint_is_refused_without_running(tmp_path: Path, function, zip_format: bool) -> None:
    marker = tmp_path / "ran"
    path = _hostile_checkpoint(tmp_path / "hostile.pth", marker, function, zip_format)
    with pytest.raises(UnsafeCheckpointError, match=r"hostile\.pth: the file asks to call .* refusing it"):
        safe_load(path)
    assert not marker.exists()


def test_reference_importer_refuses_a_hostile_checkpoint(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = _hostile_checkpoint(tmp_path / "rafdb.pth", marker, os.system)
    with pytest.raises(UnsafeCheckpointError, match="posix.system|os.system"):
        import_reference_checkpoint(path)
    assert not marker.exists()


def test_a_raw_protocol_0_pickle_naming_os_system_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "raw.pth"
    path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        safe_load(path)
    assert not marker.exists()


def test_unknown_classes_become_stand_ins_and_their_module_is_never_imported(tmp_path: Path, monkeypatch) -> None:
    # A class of a module that exists on disk and would leave a marker if it were imported.
    marker = tmp_path / "imported"
    (tmp_path / "training_script.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass RecorderMeter: pass\n")
    fake = types.ModuleType("training_script")
    recorder_class = type("RecorderMeter", (), {"__module__": "training_script"})
    fake.RecorderMeter = recorder_class
    recorder = recorder_class()
    recorder.epoch_losses = np.zeros((3, 2), dtype=np.float32)
    recorder.total_epoch = 3
    monkeypatch.setitem(sys.modules, "training_script", fake)
    torch.save({"state_dict": {"w": torch.arange(4.0)}, "recorder": recorder, "best_acc": np.float64(0.5)},
               tmp_path / "checkpoint.pth")
    monkeypatch.delitem(sys.modules, "training_script")
    monkeypatch.syspath_prepend(str(tmp_path))

    loaded = safe_load(tmp_path / "checkpoint.pth")

    assert "training_script.RecorderMeter" in loaded.stand_ins
    assert "training_script" not in sys.modules and not marker.exists()
    recorder = loaded.content["recorder"]
    assert isinstance(recorder, StandIn) and recorder.global_name == "training_script.RecorderMeter"
    assert recorder.state["total_epoch"] == 3
    # numpy never sees the array's pickled state: it stays a record of it.
    losses = recorder.state["epoch_losses"]
    assert isinstance(losses, StandIn) and losses.global_name.endswith("multiarray._reconstruct")
    assert losses.state[1] == (3, 2) and losses.state[-1] == bytes(24)
    assert loaded.content["best_acc"] == 0.5 and isinstance(loaded.content["best_acc"], float)
    torch.testing.assert_close(loaded.content["state_dict"]["w"], torch.arange(4.0))


def test_numpy_numbers_are_decoded_and_other_numpy_values_stay_records(tmp_path: Path) -> None:
    values = {"i": np.int64(-7), "f": np.float32(0.25), "b": np.bool_(True), "big": np.dtype(">f8").type(1.5),
              "objects": np.array([1, "x"], dtype=object)}
    torch.save(values, tmp_path / "numbers.pth")
    content = safe_load(tmp_path / "numbers.pth").content
    assert [content[k] for k in ("i", "f", "b", "big")] == [-7, 0.25, True, 1.5]
    assert isinstance(content["objects"], StandIn)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_plain_state_dict_loads_with_shared_storage_kept(tmp_path: Path, zip_format: bool) -> None:
    weight = torch.randn(3, 4)
    state = OrderedDict(a=weight, alias=weight, b=torch.nn.Parameter(torch.ones(2)), n=torch.tensor(7))
    torch.save(state, tmp_path / "plain.pth", _use_new_zipfile_serialization=zip_format)
    loaded = safe_load(tmp_path / "plain.pth")
    assert loaded.stand_ins == ()
    assert list(loaded.content) == ["a", "alias", "b", "n"]
    for key, value in state.items():
        assert torch.equal(loaded.content[key], value)
    assert loaded.content["a"].data_ptr() == loaded.content["alias"].data_ptr()


def test_torchscript_archives_are_refused(tmp_path: Path) -> None:
    # torch.load would hand these to torch.jit.load, which runs the archive's code.
    path = tmp_path / "scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, not gone
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(UnsafeCheckpointError, match="TorchScript"):
        safe_load(path)


def test_missing_and_garbage_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        safe_load(tmp_path / "nothing.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.pth is not a readable torch checkpoint"):
        safe_load(tmp_path / "garbage.pth")


def test_a_zip_checkpoint_with_an_empty_persistent_id_is_a_clear_error(tmp_path: Path) -> None:
    # torch's zip reader indexes the persistent id without checking it: IndexError unless it is caught.
    torch.save({"w": torch.ones(2)}, tmp_path / "good.pth")
    with zipfile.ZipFile(tmp_path / "good.pth") as archive:
        records = {name: archive.read(name) for name in archive.namelist()}
    pickled = next(name for name in records if name.endswith("/data.pkl"))
    records[pickled] = b"\x80\x02)Q."  # PROTO 2, EMPTY_TUPLE, BINPERSID, STOP
    with zipfile.ZipFile(tmp_path / "crafted.pth", "w") as archive:
        for name, data in records.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"crafted\.pth is not a readable torch checkpoint: IndexError"):
        safe_load(tmp_path / "crafted.pth")


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_a_pickle_asking_for_a_huge_bytearray_is_refused(tmp_path: Path, zip_format: bool) -> None:
    torch.save({"w": torch.ones(2), "blob": _Payload(bytearray, 10**12)}, tmp_path / "huge.pth",
               _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpointError, match=r"huge\.pth: bytearray is only built from bytes"):
        safe_load(tmp_path / "huge.pth")


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_pickled_bytearrays_still_load(tmp_path: Path, protocol: int) -> None:
    # Protocol 2 spells a bytearray as bytearray(latin1 text, "latin1"), protocols 3 and 4 as bytearray(bytes).
    content = {"blob": bytearray(b"ab\xff\x00"), "empty": bytearray()}
    torch.save(content, tmp_path / "blobs.pth", pickle_protocol=protocol)
    assert safe_load(tmp_path / "blobs.pth").content == content
