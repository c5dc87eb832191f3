import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image
from shapes import make_shapes, write_shapes_tree

from pcnn_fer.data.mixup import Mixup
from pcnn_fer.engine import evaluate, fold_trainer, model_setup
from pcnn_fer.engine.calibration import PRIOR_WEIGHTS
from pcnn_fer.engine.checkpoint import LAST, RunDir
from pcnn_fer.engine.config import load_config
from pcnn_fer.engine.train import train
from pcnn_fer.models.loss import TwoPhaseLoss
from pcnn_fer.models.storage import load_model


def tiny_config(tmp_path, **overrides):
    settings = {
        "model.variant": "pcnn_mbv2", "model.pretrained": "none", "model.input_size": 48,
        "data.batch_size": 6, "data.workers": 0, "schedule.epochs": 1, "augment.train": "none",
        "misc.output": str(tmp_path), "misc.name": "run", "misc.quiet": True, "misc.threads": 1,
        "misc.select": "last",
    }
    settings.update(overrides)
    return load_config(None, list(settings.items()))


@pytest.mark.slow
def test_loss_falls_and_held_out_accuracy_beats_chance(tmp_path):
    config = tiny_config(tmp_path, **{"model.variant": "pcnn_r18", "model.input_size": 64, "optim.name": "adamw",
                                      "optim.lr": 0.001, "schedule.epochs": 3, "data.batch_size": 12,
                                      "misc.select": "val", "data.val_fraction": 0.25, "misc.seed": 1})
    run = train(config, samples=make_shapes(train_per_class=16, test_per_class=6))
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    result = json.loads((run / "result.json").read_text())
    assert result["test"]["main"]["count"] == 18
    assert result["test"]["main"]["accuracy"] > 0.6  # chance is 1/3
    assert result["selection"] == "selected by accuracy on the validation split"
    for name in ("config.yaml", "environment.json", "metrics.csv", "report.md", "plots/curves.png",
                 "plots/test_confusion.png", "plots/test.json", "selected/model.safetensors",
                 "last/training_state.pt"):
        assert (run / name).is_file(), name
    assert "![curves](plots/curves.png)" in (run / "report.md").read_text()
    assert json.loads((run / "selected" / "config.json").read_text())["metadata"]["metrics"]["test"]["split"] == "test"


class NaNOnThirdCall(TwoPhaseLoss):
    calls = 0
    nan_at = 3

    def forward(self, output, target):
        NaNOnThirdCall.calls += 1
        loss = super().forward(output, target)
        return loss * float("nan") if NaNOnThirdCall.calls == NaNOnThirdCall.nan_at else loss


def test_nan_loss_stops_with_a_message_naming_the_step_and_leaves_no_half_made_run(tmp_path, monkeypatch):
    NaNOnThirdCall.calls = 0
    monkeypatch.setattr(fold_trainer, "TwoPhaseLoss", NaNOnThirdCall)
    with pytest.raises(RuntimeError, match=r"loss is nan at epoch 1, batch 3 \(optimiser step 3\).*--skip-nonfinite"):
        train(tiny_config(tmp_path), samples=make_shapes(train_per_class=6, test_per_class=1, size=48))
    assert not (tmp_path / "run").exists()  # nothing in it could have been resumed


def test_a_run_that_fails_after_a_checkpoint_is_marked_failed_and_resumes(tmp_path, monkeypatch):
    samples = make_shapes(train_per_class=6, test_per_class=1, size=48)
    config = tiny_config(tmp_path, **{"schedule.epochs": 2})
    NaNOnThirdCall.calls, NaNOnThirdCall.nan_at = 0, 5  # epoch 2, after epoch 1's checkpoint
    monkeypatch.setattr(fold_trainer, "TwoPhaseLoss", NaNOnThirdCall)
    try:
        with pytest.raises(RuntimeError, match="loss is nan at epoch 2"):
            train(config, samples=samples)
    finally:
        NaNOnThirdCall.nan_at = 3
    marker = tmp_path / "run" / "failed.txt"
    assert "loss is nan at epoch 2" in marker.read_text()
    monkeypatch.setattr(fold_trainer, "TwoPhaseLoss", TwoPhaseLoss)
    run = train(config, samples=samples, resume=tmp_path / "run")
    assert (run / "result.json").is_file() and not marker.exists()


def test_skip_nonfinite_skips_the_step_and_counts_it(tmp_path, monkeypatch):
    NaNOnThirdCall.calls = 0
    monkeypatch.setattr(fold_trainer, "TwoPhaseLoss", NaNOnThirdCall)
    run = train(tiny_config(tmp_path, **{"optim.skip_nonfinite": True}),
                samples=make_shapes(train_per_class=6, test_per_class=1, size=48))
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert record["skipped_steps"] == 1
    assert all(torch.isfinite(p).all() for p in load_model(RunDir(run).checkpoint_path(LAST)).parameters())


def test_class_count_other_than_the_recipes_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match=r"has 3 classes .* the recipe expects data.class_count=7"):
        train(tiny_config(tmp_path, **{"data.class_count": 7}), samples=make_shapes(2, 1, size=48))
    assert not (tmp_path / "run").exists()


def test_select_test_is_labelled_as_such(tmp_path):
    run = train(tiny_config(tmp_path, **{"misc.select": "test"}), samples=make_shapes(2, 1, size=48))
    result = json.loads((run / "result.json").read_text())
    assert "selected on the test set" in result["selection"]
    assert "selected on the test set" in (run / "report.md").read_text()


def test_cross_validation_reports_each_fold_and_mean_std(tmp_path, caplog, capsys):
    config = tiny_config(tmp_path, **{"data.protocol": "subject_kfold", "data.folds": 2})
    caplog.set_level(logging.INFO, logger="pcnn_fer.engine.train")
    run = train(config, samples=make_shapes(train_per_class=2, test_per_class=2, size=48, subjects=4))
    assert capsys.readouterr().out == ""  # tables go through logging, which the command line prints
    assert "fold_02" in caplog.text and "over 2 folds" in caplog.text
    summary = json.loads((run / "summary.json").read_text())
    folds = [json.loads((run / f"fold_0{i}" / "result.json").read_text()) for i in (1, 2)]
    accuracies = [f["test"]["main"]["accuracy"] for f in folds]
    assert summary["heads"]["main"]["accuracy"]["mean"] == pytest.approx(sum(accuracies) / 2)
    assert summary["heads"]["main"]["accuracy"]["std"] == pytest.approx(abs(accuracies[0] - accuracies[1]) / 2)
    assert "fold_01/report.md" in (run / "report.md").read_text()


@pytest.mark.slow
def test_every_training_option_runs_together(tmp_path):
    config = tiny_config(tmp_path, **{
        "optim.name": "adamw", "optim.accumulate": 2, "optim.clip_grad": 1.0, "optim.label_smoothing": 0.1,
        "schedule.name": "cosine", "schedule.warmup_epochs": 1, "schedule.epochs": 2, "ema.enabled": True,
        "ema.decay": 0.9, "misc.amp": "bf16", "misc.channels_last": True, "data.balanced": True,
        "augment.train": "reference", "augment.flip_tta": True, "misc.organ_weight": 0.5,
        "data.cache": str(tmp_path / "cache")})
    run = train(config, samples=make_shapes(train_per_class=4, test_per_class=1, size=48))
    result = json.loads((run / "result.json").read_text())
    assert set(result["test"]) == {"main", "main+0.5*organs"}
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert (tmp_path / "cache" / "index.json").is_file()
    assert (run / "last" / "model.safetensors").is_file()  # EMA: the kept weights are not the last raw ones
    assert history[0]["lr"] < 0.01 and all(torch.isfinite(torch.tensor(r["train_loss"])) for r in history)


def shapes_tree_with_bad_images(root):
    """A folder dataset with a text file posing as a PNG and a PNG cut off after its header."""
    data = write_shapes_tree(root, train_per_class=3, test_per_class=1, size=48)
    not_an_image = data / "train" / "sadness" / "notes.png"
    not_an_image.write_text("this is not a picture\n")
    truncated = data / "test" / "happiness" / "test_0_0.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    return data, not_an_image, truncated


def folder_config(tmp_path, data, **overrides):
    return tiny_config(tmp_path, **{"data.dataset": "folder", "data.root": str(data), **overrides})


@pytest.mark.parametrize("cached", [True, False])
def test_skip_bad_leaves_out_undecodable_images_before_folds_are_planned(tmp_path, caplog, cached):
    data, not_an_image, truncated = shapes_tree_with_bad_images(tmp_path / "data")
    overrides = {"data.skip_bad": True, "data.protocol": "random_kfold", "data.folds": 2}
    if cached:
        overrides["data.cache"] = str(tmp_path / "cache")
    caplog.set_level(logging.WARNING, logger="pcnn_fer.engine.preflight")
    run = train(folder_config(tmp_path, data, **overrides))
    tested = sum(json.loads((run / f"fold_0{i}" / "result.json").read_text())["test_samples"] for i in (1, 2))
    assert tested == 12 - 1  # each readable shape image tested once across the folds; the bad files nowhere
    assert "left out 2 unreadable image(s)" in caplog.text and str(truncated) in caplog.text
    skipped = (run / "skipped.txt").read_text()
    assert str(not_an_image) in skipped and str(truncated) in skipped


def test_an_unreadable_image_without_skip_bad_fails_before_training_naming_the_file(tmp_path):
    data, not_an_image, truncated = shapes_tree_with_bad_images(tmp_path / "data")
    with pytest.raises(ValueError, match=rf"1 image\(s\) cannot be read, first: {not_an_image}: .*--skip-bad"):
        train(folder_config(tmp_path, data))
    assert not (tmp_path / "run").exists()
    # Building the cache decodes every image, so it also meets the truncated one (which headers alone pass).
    with pytest.raises(ValueError, match=rf"^({truncated}|{not_an_image}): "):
        train(folder_config(tmp_path, data, **{"data.cache": str(tmp_path / "cache")}))


@pytest.mark.slow
def test_backbone_weights_are_read_once_per_run_and_not_for_a_resumed_fold(tmp_path, monkeypatch):
    from torchvision.models import mobilenet_v2

    reads = []

    def fake_weights(source, backbone):
        reads.append((source, backbone))
        return mobilenet_v2().state_dict()

    monkeypatch.setattr(model_setup, "load_backbone_weights", fake_weights)
    config = tiny_config(tmp_path, **{"model.pretrained": "imagenet", "data.protocol": "subject_kfold",
                                      "data.folds": 2})
    samples = make_shapes(train_per_class=2, test_per_class=1, size=48)
    run = train(config, samples=samples)
    assert reads == [("imagenet", "mobilenet_v2")]
    (run / "fold_02" / "result.json").unlink()  # fold 2 resumes from its last checkpoint
    train(config, samples=samples, resume=run)
    assert len(reads) == 1 and (run / "fold_02" / "result.json").is_file()


def test_the_logged_learning_rate_is_the_one_each_epoch_trained_with(tmp_path):
    config = tiny_config(tmp_path, **{"schedule.epochs": 3, "schedule.step_size": 1, "schedule.gamma": 0.5,
                                      "optim.lr": 0.008})
    run = train(config, samples=make_shapes(train_per_class=2, test_per_class=1, size=32))
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in history] == pytest.approx([0.008, 0.004, 0.002])


def test_a_recipe_without_a_dataset_directory_is_refused_not_read_from_the_current_one(tmp_path):
    with pytest.raises(ValueError, match="no dataset directory: pass --data-root DIR"):
        train(tiny_config(tmp_path, **{"data.dataset": "ferplus"}))
    assert not (tmp_path / "run").exists()


def test_a_new_run_never_reuses_an_existing_run_directory(tmp_path):
    config = tiny_config(tmp_path)
    existing = tmp_path / "run"
    existing.mkdir()
    (existing / "config.yaml").write_text("the recipe of another run\n")
    with pytest.raises(ValueError, match=r"already holds a run; choose another misc.name, --resume it"):
        train(config, samples=make_shapes(train_per_class=2, test_per_class=1, size=32))
    assert (existing / "config.yaml").read_text() == "the recipe of another run\n"  # left as it was


def test_a_fold_kept_at_its_last_epoch_stores_its_weights_once(tmp_path):
    # As pcnn-fer quickstart trains: samples in memory, subject-independent folds, the last epoch kept.
    config = tiny_config(tmp_path, **{"data.protocol": "subject_kfold", "data.folds": 2})
    run = train(config, samples=make_shapes(train_per_class=2, test_per_class=1, size=32, subjects=4))
    for fold in ("fold_01", "fold_02"):
        stored = [p.relative_to(run / fold).parts[0] for p in (run / fold).rglob("model.safetensors")]
        assert stored == ["selected"]
        assert (run / fold / "last" / "training_state.pt").is_file()
        assert load_model(run / fold).metadata.metrics["test"]["split"] == f"test {fold}"


def thinned(shapes, label: int, kept: int):
    """`shapes` with only the first `kept` training faces of class `label`."""
    return shapes.subset([s for s in shapes if s.tags["split"] != "train" or s.label != label
                          or int(s.key.rsplit("_", 1)[1]) < kept])


def test_a_run_records_its_training_prior_and_the_fitted_correction_without_applying_it(tmp_path, monkeypatch):
    passes = []
    collect = evaluate.collect_logits
    monkeypatch.setattr(evaluate, "collect_logits", lambda *a, **k: passes.append(1) or collect(*a, **k))
    config = tiny_config(tmp_path, **{"misc.select": "val", "data.val_fraction": 0.25})
    run = train(config, samples=thinned(make_shapes(train_per_class=8, test_per_class=2, size=32), 2, 3))
    assert len(passes) == 1  # the temperature and the correction are fitted on one pass over val
    metadata = load_model(run).metadata
    correction = metadata.prior_correction
    assert correction.weight == 0.0 and metadata.prior_weight == 0.0  # the model's own predictions by default
    assert correction.fitted_weight in PRIOR_WEIGHTS
    assert len(correction.model_extra["val_trials"]) == len(PRIOR_WEIGHTS)
    assert sum(correction.prior) == pytest.approx(1.0, abs=1e-5)
    assert correction.prior[2] < min(correction.prior[:2])  # the thinned class is the rare one
    assert metadata.logit_offset(0.5)[2] > metadata.logit_offset(0.5)[0]  # opting in lifts it


def test_a_run_without_training_faces_of_a_class_records_no_prior_and_says_why(tmp_path, caplog):
    config = tiny_config(tmp_path, **{"misc.select": "val", "data.val_fraction": 0.25})
    with caplog.at_level(logging.WARNING, logger="pcnn_fer"):
        run = train(config, samples=thinned(make_shapes(train_per_class=6, test_per_class=2, size=32), 2, 0))
    assert load_model(run).metadata.prior_correction is None
    assert "no prior correction recorded: every class needs training samples" in caplog.text


def test_class_balance_wild_augmentation_mixup_and_distillation_run_together(tmp_path, monkeypatch):
    samples = make_shapes(train_per_class=4, test_per_class=1, size=48)
    teacher = train(tiny_config(tmp_path, **{"misc.name": "teacher"}), samples=samples)
    student_config = tiny_config(tmp_path, **{
        "misc.name": "student", "optim.logit_adjust": 1.0, "optim.class_weighting": "sqrt_inverse",
        "augment.train": "wild", "augment.working_size": 32, "distill.teacher": str(teacher),
        "distill.weight": 0.5, "distill.temperature": 2.0, "augment.mixup": 0.4})
    criteria, targets_seen, blends = [], [], []
    original, loss = fold_trainer.FoldTrainer._criterion, TwoPhaseLoss.forward

    def recording(self, train_part):
        criteria.append(original(self, train_part))
        return criteria[-1]

    def seeing(self, output, target):
        targets_seen.append(target.detach().clone())
        return loss(self, output, target)

    monkeypatch.setattr(fold_trainer.FoldTrainer, "_criterion", recording)
    class RecordingMixup(Mixup):
        def __call__(self, images, targets):
            blends.append(super().__call__(images, targets))
            return blends[-1]

    monkeypatch.setattr(TwoPhaseLoss, "forward", seeing)
    monkeypatch.setattr(fold_trainer, "Mixup", RecordingMixup)
    student = train(student_config, samples=samples)
    stored = torch.from_numpy(np.load(student / "teacher_logits.npz")["logits"])
    assert stored.shape == (len(samples.where(split="train")), 3)
    # Balanced shapes: the prior is uniform, so the bias is log(1/3) everywhere and the weights are all 1.
    torch.testing.assert_close(criteria[0].logit_bias, torch.full((3,), 1 / 3).log())
    torch.testing.assert_close(criteria[0].class_weights, torch.ones(3))
    # Every training batch reaches the loss through mixup, as distributions.
    assert blends and len(blends) == len(targets_seen)
    for (_, blended), seen in zip(blends, targets_seen, strict=True):
        assert torch.equal(blended, seen)
        torch.testing.assert_close(seen.sum(dim=1), torch.ones(len(seen)))
    assert (student / "selected" / "model.safetensors").is_file()


def test_a_model_trained_on_a_dataset_of_known_framing_records_it(tmp_path, monkeypatch):
    from pcnn_fer.faces.framing import FER2013_FRAMING

    samples = make_shapes(train_per_class=2, test_per_class=1, size=48)
    monkeypatch.setitem(fold_trainer.DATASET_FRAMINGS, samples.name, FER2013_FRAMING)
    run = train(tiny_config(tmp_path), samples=samples)
    assert load_model(run).metadata.framing.to_dict() == FER2013_FRAMING.to_dict()


def test_a_second_dataset_mixed_in_joins_each_part_and_is_drawn_at_its_share(tmp_path, monkeypatch):
    web = tmp_path / "web"
    for index, name in enumerate(("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness",
                                  "surprise")):
        for split, count in (("train", 2), ("test", 1)):
            for i in range(count):
                folder = web / split / name
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.full((32, 32), 20 * index + i, np.uint8)).save(folder / f"{i}.png")
    lab = tmp_path / "CK+48"
    for folder, subject in (("happy", "S010"), ("anger", "S011"), ("fear", "S012")):
        (lab / folder).mkdir(parents=True)
        for frame in range(3):
            Image.fromarray(np.full((32, 32), 60 * frame, np.uint8)).save(lab / folder / f"{subject}_001_{frame}.png")
    drawn = []
    original = fold_trainer.draw_weights
    monkeypatch.setattr(fold_trainer, "draw_weights", lambda *a, **k: drawn.append(original(*a, **k)) or drawn[-1])
    source = {"dataset": "ckplus48", "root": str(lab), "share": 0.5,
              "options": {"val_subjects": 0.3, "test_subjects": 0.3}}
    run = train(folder_config(tmp_path, web, **{"data.mix": [source]}))
    result = json.loads((run / "result.json").read_text())
    assert result["train_samples"] == 16 + 3 and result["test_samples"] == 8 + 3  # one lab subject per part
    assert drawn[0][16:].sum() == pytest.approx(0.5)  # 3 lab faces drawn as often as 16 web faces
    with pytest.raises(ValueError, match="ckplus48 has no train/val/test split"):
        train(folder_config(tmp_path, web, **{"data.mix": [{**source, "options": {}}], "misc.name": "again"}))
