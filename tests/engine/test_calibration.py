import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from shapes import CLASSES, make_shapes, write_shapes_tree
from test_train import tiny_config

from pcnn_fer.cli.main import main
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.calibration import (
    PRIOR_WEIGHTS,
    expected_calibration_error,
    fit_prior_weight,
    fit_temperature,
    reliability_bins,
)
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.evaluate import (
    EvalOptions,
    collect_logits,
    evaluate,
    fit_calibration,
    fit_prior_correction,
    held_out_logits,
    training_prior,
    write_evaluation,
)
from pcnn_fer.engine.metrics import confusion_matrix
from pcnn_fer.engine.train import train
from pcnn_fer.models import create_model
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.storage import load_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny batches: one intra-op thread is as fast, and immune to oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def drawn(count: int, temperature: float, seed: int = 0, scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits z and labels drawn from softmax(z / temperature): z is calibrated at that temperature."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(count, 5, generator=generator) * scale
    labels = torch.multinomial(torch.softmax(logits / temperature, dim=1), 1, generator=generator).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_labels_were_drawn_at(true_temperature):
    logits, labels = drawn(5000, true_temperature)
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.1)


def test_fit_temperature_is_one_without_usable_input_and_finite_on_separable_data():
    labels = torch.arange(6) % 3
    assert fit_temperature(torch.empty(0, 3), torch.empty(0, dtype=torch.int64)) == 1.0
    assert fit_temperature(torch.full((6, 3), float("nan")), labels) == 1.0
    separable = fit_temperature(10 * F.one_hot(labels, 3).float(), labels)
    assert np.isfinite(separable) and 0 < separable < 1  # all right: sharpening helps, within bounds


def test_ece_is_near_zero_when_calibrated_and_clearly_higher_when_over_confident():
    logits, labels = drawn(20000, 1.0, scale=2.0)
    assert expected_calibration_error(reliability_bins(logits, labels)) < 0.02
    assert expected_calibration_error(reliability_bins(3 * logits, labels)) > 0.1


def test_ece_equals_the_hand_computed_value():
    # Bins (count, confidence sum, correct): 2 samples at mean confidence 0.9, 1 right; 1 at 0.5, right.
    bins = [[2, 1.8, 1], [0, 0, 0], [1, 0.5, 1]]
    assert expected_calibration_error(bins) == pytest.approx((2 / 3) * abs(0.5 - 0.9) + (1 / 3) * abs(1 - 0.5))
    assert expected_calibration_error(np.zeros((15, 3))) == 0.0


def test_bins_place_confidences_and_count_correct_predictions():
    logits = torch.tensor([[100.0, 0, 0], [0, 100.0, 0], [0.0, 0, 0]])  # confident right, confident wrong, 1/3
    bins = reliability_bins(logits, torch.tensor([0, 0, 0]), bins=10)
    assert bins[9].tolist() == [2, pytest.approx(2.0), 1]
    assert bins[3].tolist() == [1, pytest.approx(1 / 3), 1]  # argmax of a tie is class 0
    assert bins.sum(dim=0)[0] == 3


def test_bins_of_two_halves_sum_to_the_bins_of_the_whole():
    logits, labels = drawn(1001, 1.5, seed=3)
    halves = reliability_bins(logits[:400], labels[:400]) + reliability_bins(logits[400:], labels[400:])
    whole = reliability_bins(logits, labels)
    assert torch.equal(halves[:, [0, 2]], whole[:, [0, 2]])  # counts are exact
    torch.testing.assert_close(halves, whole)


def test_a_temperature_fitted_on_val_lowers_nll_on_val_and_on_held_out_data():
    logits, labels = drawn(4000, 2.0, seed=5)  # the logits are twice as sharp as the labels warrant
    val, test = slice(0, 2000), slice(2000, None)
    temperature = fit_temperature(logits[val], labels[val])
    for part in (val, test):
        before = F.cross_entropy(logits[part], labels[part])
        after = F.cross_entropy(logits[part] / temperature, labels[part])
        assert after < before - 0.05
    ece_before = expected_calibration_error(reliability_bins(logits[test], labels[test]))
    assert expected_calibration_error(reliability_bins(logits[test] / temperature, labels[test])) < ece_before / 2


def prior_bound(temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits of a model that learnt the prior (0.8, 0.1, 0.1): its rare-class faces lose to class 0 by 1 logit,
    its class-0 faces win by 5. At temperature T the rare ones come right once 2.08 * w > 1 / T; the others stay
    right for every w up to 1 (2.08 * w < 5 / T for the temperatures used here)."""
    prior = torch.tensor([0.8, 0.1, 0.1])
    logits = torch.tensor([[5.0, 0.0, 0.0]] * 8 + [[1.0, 0.0, -5.0], [1.0, -5.0, 0.0]])
    targets = torch.tensor([0] * 8 + [1, 2])
    return logits, targets, prior


@pytest.mark.parametrize("temperature, expected", [(1.0, 0.5), (2.0, 0.25)])
def test_the_prior_weight_is_the_smallest_that_recovers_the_rare_classes(temperature, expected):
    logits, targets, prior = prior_bound(temperature)
    weight, trials = fit_prior_weight(logits, targets, temperature, prior)
    assert weight == expected
    assert [trial["weight"] for trial in trials] == list(PRIOR_WEIGHTS)
    assert trials[0]["accuracy"] == pytest.approx(0.8) and trials[0]["mean_class_accuracy"] == pytest.approx(1 / 3)
    chosen = trials[PRIOR_WEIGHTS.index(expected)]
    assert chosen["accuracy"] == chosen["mean_class_accuracy"] == 1.0
    assert all(trial["accuracy"] < 1 for trial in trials if trial["weight"] < expected)


def test_a_model_already_right_on_every_class_keeps_its_prior():
    logits, targets, prior = prior_bound(1.0)
    logits[8:] = torch.tensor([[0.0, 3.0, -5.0], [0.0, -5.0, 3.0]])
    assert fit_prior_weight(logits, targets, 1.0, prior)[0] == 0.0  # ties go to the smallest change
    with pytest.raises(ValueError, match="needs held-out faces"):
        fit_prior_weight(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), 1.0, prior)


@pytest.fixture(scope="module")
def tiny():
    """An untrained 48 px model, and shape images split into a val and a test part."""
    torch.manual_seed(0)
    model = create_model("pcnn_mbv2", class_names=CLASSES, input_size=48)
    samples = make_shapes(train_per_class=4, test_per_class=3, size=48)
    val = samples.subset([s for s in samples if s.tags["split"] == "train"])
    test = samples.subset([s for s in samples if s.tags["split"] == "test"])
    return model, val, test


def test_evaluate_reports_ece_and_nll_before_and_after_the_fitted_temperature(tiny, tmp_path):
    model, val, test = tiny
    options = EvalOptions(batch_size=5, show_progress=False)
    calibration = fit_calibration(*held_out_logits(model, val, options, "val"), "val")
    assert calibration["fitted_on"] == "val" and calibration["temperature"] > 0
    assert calibration["val_nll_calibrated"] < calibration["val_nll"]
    plain = evaluate(model, test, options)["main"]
    assert {"ece", "nll", "reliability"} <= set(plain) and "ece_calibrated" not in plain
    scaled = EvalOptions(batch_size=5, show_progress=False, temperature=calibration["temperature"])
    results = evaluate(model, test, scaled)
    main = results["main"]
    for key in ("ece", "ece_calibrated"):
        assert 0 <= main[key] <= 1
    assert main["ece"] == pytest.approx(plain["ece"]) and main["nll"] == pytest.approx(plain["nll"])
    assert main["temperature"] == calibration["temperature"]
    assert sum(row[0] for row in main["reliability_calibrated"]) == main["count"] == len(test)
    # The same data path: val scored at the fitted temperature gives the NLL the fit reported.
    on_val = evaluate(model, val, scaled)["main"]
    assert on_val["nll_calibrated"] == pytest.approx(calibration["val_nll_calibrated"], rel=1e-4)
    json.dumps(results)
    images = write_evaluation(results, tmp_path, "test", "shapes test")
    picture = tmp_path / "test_reliability.png"
    assert images["reliability"] == {"main": str(picture)}
    assert picture.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(picture) as image:
        image.verify()


def test_collected_logits_give_the_predictions_evaluate_counts(tiny):
    model, _, test = tiny
    options = EvalOptions(batch_size=4, flip_tta=True, show_progress=False)
    logits, targets = collect_logits(model, test, options)
    assert logits.shape == (len(test), len(CLASSES))
    assert targets.tolist() == [s.label for s in test]
    counted = confusion_matrix(targets.numpy(), logits.argmax(dim=1).numpy(), len(CLASSES))
    assert counted.tolist() == evaluate(model, test, options)["main"]["confusion"]


class OneOfTwo(DistContext):
    """A process of a world of two whose reductions the test does by hand."""

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor


def test_evaluation_applies_the_models_prior_correction_unless_told_otherwise(tiny):
    """Every figure the evaluation loop gives follows the model's metadata: its fitted weight, or the one asked."""
    model, val, test = tiny
    options = EvalOptions(batch_size=5, show_progress=False)
    raw, _ = collect_logits(model, test, options)
    prior = [0.55] + [0.45 / (len(CLASSES) - 1)] * (len(CLASSES) - 1)
    model.metadata = ModelMetadata.from_dict({"calibration": {"temperature": 1.5},
                                              "prior_correction": {"weight": 0.6, "prior": prior}})
    try:
        for asked, weight in ((None, 0.6), (1.0, 1.0), (0.0, 0.0)):
            shifted, _ = collect_logits(model, test, EvalOptions(batch_size=5, show_progress=False,
                                                                 prior_weight=asked))
            expected = raw - 1.5 * weight * torch.tensor(prior).log()
            torch.testing.assert_close(shifted, expected, atol=1e-4, rtol=0)
        counted = confusion_matrix([s.label for s in test], (raw - 0.9 * torch.tensor(prior).log()).argmax(1).numpy(),
                                   len(CLASSES))
        assert evaluate(model, test, options)["main"]["confusion"] == counted.tolist()
        # Fitting the temperature and a new correction starts from the raw logits, whatever the model keeps.
        assert fit_calibration(*held_out_logits(model, val, options, "val"), "val")["val_nll"] == pytest.approx(
            float(F.cross_entropy(collect_logits(model, val, replace(options, prior_weight=0.0))[0],
                                  torch.tensor([s.label for s in val]))), rel=1e-5)
    finally:
        model.metadata = ModelMetadata()


def test_a_prior_correction_is_fitted_from_the_training_labels_prior_on_held_out_faces(tiny):
    model, val, _ = tiny
    train = val.subset([s for s in val if s.label == 0] * 3 + list(val))  # class 0 four times as frequent
    logits, targets = held_out_logits(model, val, EvalOptions(batch_size=5, show_progress=False), "val")
    prior = training_prior(train, model.config.class_names)
    correction = fit_prior_correction(logits, targets, prior, 1.0, "val")
    counts = np.bincount([s.label for s in train], minlength=len(CLASSES))
    np.testing.assert_allclose(correction["prior"], counts / counts.sum(), atol=1e-6)
    assert correction["fitted_on"] == "val" and correction["weight"] in PRIOR_WEIGHTS
    best = max(correction["val_trials"], key=lambda t: t["accuracy"] + t["mean_class_accuracy"])
    assert correction["weight"] == best["weight"]
    read = ModelMetadata.from_dict({"prior_correction": correction}).prior_correction
    assert read.fitted_weight is None and read.suggested_weight == correction["weight"]
    # Recorded only: the model keeps its predictions (weight 0) and the fitted weight is the one suggested.
    recorded = fit_prior_correction(logits, targets, prior, 1.0, "val", apply=False)
    read = ModelMetadata.from_dict({"prior_correction": recorded}).prior_correction
    assert read.weight == 0.0 and read.fitted_weight == read.suggested_weight == correction["weight"]


def test_the_prior_correction_weight_is_fitted_at_the_temperature_given():
    # Two classes, prior 0.9 / 0.1; the rare class's faces lose by 0.5, the common class's win by 3. The shift
    # W * log(0.9 / 0.1) = 2.197 W lifts the rare class once it beats the margin scaled by 1 / T: W > 0.23 at T = 1
    # (the common faces stay right up to W = 1), W > 0.03 at T = 8 (where the common faces flip from W > 0.17).
    logits = torch.tensor([[0.0, -0.5]] * 4 + [[0.0, -3.0]] * 4)
    targets = torch.tensor([1] * 4 + [0] * 4)
    prior = torch.tensor([0.9, 0.1])
    assert fit_prior_correction(logits, targets, prior, 1.0, "val")["weight"] == 0.25
    assert fit_prior_correction(logits, targets, prior, 8.0, "val")["weight"] == 0.05


def test_each_process_fills_in_its_own_share_of_the_collected_logits(tiny):
    model, _, test = tiny
    options = EvalOptions(batch_size=4, show_progress=False)
    shares = [collect_logits(model, test, options, OneOfTwo(rank=rank, world_size=2)) for rank in (0, 1)]
    logits, targets = collect_logits(model, test, options)
    torch.testing.assert_close(shares[0][0] + shares[1][0], logits)
    assert torch.equal(shares[0][1] + shares[1][1], targets)


def test_training_keeps_the_temperature_fitted_on_val_and_reports_ece(tmp_path):
    config = tiny_config(tmp_path, **{"misc.select": "val", "data.val_fraction": 0.25})
    run = train(config, samples=make_shapes(train_per_class=8, test_per_class=2, size=48))
    calibration = json.loads((run / "selected" / "config.json").read_text())["metadata"]["calibration"]
    assert calibration["fitted_on"] == "val" and calibration["temperature"] > 0
    assert calibration["val_nll_calibrated"] <= calibration["val_nll"]
    result = json.loads((run / "result.json").read_text())
    assert result["calibration"] == calibration
    assert result["test"]["main"]["temperature"] == calibration["temperature"]
    assert {"ece", "ece_calibrated", "nll", "nll_calibrated"} <= set(result["test"]["main"])
    assert (run / "plots" / "test_reliability.png").read_bytes().startswith(PNG_SIGNATURE)
    report = (run / "report.md").read_text()
    assert "ECE" in report and "plots/test_reliability.png" in report


@pytest.fixture(scope="module")
def folder_with_val(tmp_path_factory):
    """A folder dataset with train, val and test splits, and an untrained model saved with a temperature."""
    root = tmp_path_factory.mktemp("calibrated")
    data = write_shapes_tree(root / "data", train_per_class=1, test_per_class=3, size=48)
    write_shapes_tree(root / "more", train_per_class=1, test_per_class=3, size=48, seed=1)
    (root / "more" / "test").rename(data / "val")
    torch.manual_seed(0)
    model = create_model("pcnn_mbv2", class_names=CLASSES, input_size=48)
    kept = {"temperature": 0.5, "fitted_on": "val", "val_nll": 1.2, "val_nll_calibrated": 1.1}
    return data, model.save_pretrained(root / "model", metadata={"calibration": kept})


@pytest.mark.parametrize("flag", [[], ["--calibrate-on", "val"]])
def test_eval_prints_ece_before_and_after_a_kept_or_fitted_temperature(folder_with_val, tmp_path, capsys, flag):
    data, model = folder_with_val
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(model), "--dataset", "folder", "--data-root", str(data), "--workers", "0",
                 "--quiet", "--output", str(out), *flag]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "test.json").read_text())
    assert "ece_calibrated" in metrics and "ECE" in printed and "→" in printed
    if flag:  # fitted afresh on the dataset's val split, not the one the model keeps
        assert metrics["temperature"] != 0.5 and "val NLL 1.2000" not in printed
    else:
        assert metrics["temperature"] == 0.5 and "val NLL 1.2000 → 1.1000" in printed
    assert (out / "test_reliability.png").is_file()


def test_eval_refuses_to_calibrate_on_the_split_it_scores(folder_with_val, capsys):
    data, model = folder_with_val
    assert main(["eval", "--model", str(model), "--dataset", "folder", "--data-root", str(data),
                 "--calibrate-on", "test", "--quiet"]) == 2
    assert "--calibrate-on test would fit the temperature on the very samples" in capsys.readouterr().err


def test_eval_scores_with_the_models_prior_correction_or_the_weight_given(folder_with_val, tmp_path, capsys):
    data, plain = folder_with_val
    prior = [0.97] + [0.03 / (len(CLASSES) - 1)] * (len(CLASSES) - 1)
    shifted = create_model("pcnn_mbv2", class_names=CLASSES, input_size=48)
    shifted.load_state_dict(load_model(plain).state_dict())
    directory = shifted.save_pretrained(tmp_path / "shifted",
                                        metadata={"prior_correction": {"weight": 1.0, "prior": prior}})
    columns = {}
    for flag in ([], ["--prior-correction", "0"]):
        out = tmp_path / f"eval{len(flag)}"
        assert main(["eval", "--model", str(directory), "--dataset", "folder", "--data-root", str(data),
                     "--workers", "0", "--quiet", "--output", str(out), *flag]) == 0
        confusion = np.array(json.loads((out / "test.json").read_text())["confusion"])
        columns[len(flag)] = confusion[:, 0].sum()
    # Dividing out a prior of 97 % for the first class lifts every other one by log(97 / 0.6) = 5 logits.
    assert columns[0] == 0
    unshifted = evaluate(load_model(plain), load_dataset("folder", data).where(split="test"),
                         EvalOptions(show_progress=False))["main"]["confusion"]
    assert columns[2] == np.array(unshifted)[:, 0].sum() > 0  # the untrained model does predict it
    capsys.readouterr()
    assert main(["eval", "--model", str(plain), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--prior-correction", "0.5"]) == 2
    assert "records no training class prior" in capsys.readouterr().err
