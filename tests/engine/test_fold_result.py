import json

import pytest
from shapes import make_shapes

from pcnn_fer.engine.fold_result import FoldResult, samples_fingerprint

RECORD = {"fold": "fold_01", "selected_epoch": 3, "selection": "last epoch", "train_samples": 8, "val_samples": 0,
          "test": {"main": {"accuracy": 0.5}}, "test_samples": 4}


def test_the_fingerprint_depends_on_which_samples_not_on_their_order():
    samples = make_shapes(train_per_class=2, test_per_class=1, size=16)
    reordered = samples.subset(list(reversed(samples.samples)))
    assert samples_fingerprint(samples) == samples_fingerprint(reordered)
    assert samples_fingerprint(samples) != samples_fingerprint(samples.subset(samples.samples[1:]))
    assert len(samples_fingerprint(samples)) == 64  # sha256, hex


def test_a_record_round_trips_through_result_json(tmp_path):
    result = FoldResult(**RECORD, test_fingerprint="ab" * 32, calibration={"temperature": 1.5},
                        confusion_images={"main": "plots/test_confusion.png"})
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result.to_dict()))
    assert FoldResult.read(path) == result


def test_a_record_written_before_fingerprints_reads_with_none_for_it(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(RECORD))
    result = FoldResult.read(path)
    assert result.test_fingerprint is None and result.test_samples == 4 and result.confusion_images == {}


def test_a_record_missing_a_field_is_refused_naming_the_file_and_the_field(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps({k: v for k, v in RECORD.items() if k != "selection"}))
    with pytest.raises(ValueError, match=rf"{path}: missing field\(s\) selection"):
        FoldResult.read(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=rf"{path}: not valid JSON"):
        FoldResult.read(path)
