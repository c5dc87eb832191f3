"""The shipped default model: there, complete in its metadata, as accurate as its model card says, used by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from pcnn_fer.cli.main import main
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.labels import FERPLUS_CLASSES
from pcnn_fer.engine.evaluate import MAIN, EvalOptions, collect_logits, evaluate
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.faces.framing import FaceFraming
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.metadata import WITHOUT_PRIOR_CORRECTION
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.storage import WEIGHTS_FILE

README = Path(__file__).resolve().parents[2] / "README.md"
ENTRY = Pretrained.DEFAULT.value


def test_the_default_entry_is_shipped_small_and_in_float16():
    weights = ENTRY.path / WEIGHTS_FILE
    assert weights.is_file()
    assert weights.stat().st_size < 60e6
    with safe_open(str(weights), "pt") as tensors:
        dtypes = {str(tensors.get_slice(key).get_dtype()) for key in tensors.keys()}  # noqa: SIM118 (not a dict)
    assert "F16" in dtypes and "F32" not in dtypes
    assert ENTRY.config.class_names == FERPLUS_CLASSES
    model = ENTRY.load()
    assert next(model.parameters()).dtype.is_floating_point and next(model.parameters()).dtype.itemsize == 4


def test_the_metadata_carries_what_a_user_needs_to_trust_and_feed_the_model():
    metadata = ENTRY.metadata
    framing = FaceFraming.from_dict(metadata.framing.to_dict())
    assert framing.grey and framing.working_size == 48
    assert metadata.extra["input"]["size"] == ENTRY.config.input_size
    assert "research" in metadata.training_data["terms"]
    assert metadata.training_data["splits"] == {"train": 25057, "val": 3199, "test": 3153}
    assert metadata.selection.split == "val"
    for split in ("val", "test", "test_vote_argmax"):
        figures = metadata.metrics[split]
        assert "FERPlus" in figures["protocol"] and 0.5 < figures["accuracy"] <= 1
    calibration = metadata.calibration.to_dict()
    assert calibration["fitted_on"] == "val" and calibration["temperature"] > 0
    assert calibration["test_ece_calibrated"] < calibration["test_ece"]
    assert metadata.recipe["model"]["variant"] == ENTRY.config.backbone.replace("mobilenet_v2", "pcnn_mbv2")
    assert metadata.git_revision


@pytest.mark.parametrize("member", list(Pretrained), ids=lambda member: member.value.name)
def test_each_entry_records_ferplus_training_prior_and_a_weight_fitted_on_validation(member):
    """The default applies its fitted weight; the other entries record theirs and apply none unless asked."""
    correction = member.metadata.prior_correction
    assert correction.fitted_on == "val" and len(correction.prior) == len(member.config.class_names)
    assert correction.prior[member.config.class_names.index("neutral")] > 0.3  # FERPlus's: a third neutral
    fitted = correction.suggested_weight
    best = max(correction.model_extra["val_trials"], key=lambda trial: trial["accuracy"] + trial["mean_class_accuracy"])
    assert fitted == best["weight"]
    if member is Pretrained.DEFAULT:
        assert correction.weight == fitted > 0
        without = member.metadata.metrics[WITHOUT_PRIOR_CORRECTION]
        assert without["accuracy"] > member.metadata.metrics["test"]["accuracy"]
        assert without["mean_class_accuracy"] < member.metadata.metrics["test"]["mean_class_accuracy"]
        assert "prior correction weight" in member.card()
    else:
        assert correction.weight == 0 and WITHOUT_PRIOR_CORRECTION not in member.metadata.metrics
        assert f"none applied (weight {fitted:.2f} fitted on val" in member.card()


def test_the_readme_model_card_states_the_metadata_figures():
    readme = README.read_text()
    for split in ("val", "test", "test_vote_argmax"):
        assert f"{100 * ENTRY.metadata.metrics[split]['accuracy']:.2f}" in readme


@pytest.mark.slow
@pytest.mark.parametrize("member", list(Pretrained), ids=lambda member: member.value.name)
def test_each_shipped_model_keeps_its_model_card_figures_on_ferplus_test(member, shared_ferplus):
    """Accuracy and mean class accuracy within 0.5 point of the card, either way, with the model's prior correction
    and, where the card gives them, without it (one pass: the correction is a fixed shift of the logits)."""
    test = load_dataset("ferplus", shared_ferplus).where(split="test")
    model = member.load()
    raw, targets = collect_logits(model, test, EvalOptions(batch_size=256, show_progress=False, prior_weight=0.0))
    offset = member.metadata.logit_offset()
    scored = {"test": raw + torch.tensor(offset) if offset else raw, WITHOUT_PRIOR_CORRECTION: raw}
    for key, logits in scored.items():
        card = member.metadata.metrics.get(key)
        if card is None:  # no uncorrected figures where no correction is applied
            continue
        classes = card["class_names"]
        measured = summarize(confusion_matrix(targets.numpy(), logits.argmax(dim=1).numpy(), len(classes)), classes)
        assert measured["count"] == card["count"] == len(test)
        assert abs(measured["accuracy"] - card["accuracy"]) <= 0.005, key
        assert abs(measured["mean_class_accuracy"] - card["mean_class_accuracy"]) <= 0.005, key


@pytest.mark.parametrize("member", list(Pretrained), ids=lambda member: member.value.name)
def test_each_card_shows_the_papers_rows_the_recall_and_the_speed(member):
    """What a user compares entries by, in `pcnn-fer models`, for every shipped entry."""
    card = member.card()
    rows = [row["row"] for row in member.metadata.extra["paper_rows"]]
    assert rows == ["FERPlus Test", "FERPlus Test, argmax of votes", "Occlusion-FERPlus", "FERPlus Pose>30",
                    "FERPlus Pose>45"]
    assert all(f"{row}: accuracy" in card for row in rows)
    assert "test recall: neutral" in card and "ms per face at batch 1" in card


MIXED = [member for member in Pretrained if member.metadata.training_data.get("sources")]


@pytest.mark.slow
@pytest.mark.parametrize("member", MIXED, ids=lambda member: member.value.name)
def test_each_model_trained_on_several_sources_keeps_its_figures_on_their_held_out_subjects(member, shared_data):
    """Every other source's held-out test part, as the card reads it (its reader options), within 0.5 point."""
    for source in member.metadata.recipe["data"]["mix"]:
        card = member.metadata.metrics[f"{source['dataset']}_test"]
        samples = load_dataset(source["dataset"], shared_data / source["dataset"], **source["options"])
        held_out = samples.where(split="test")
        assert len(held_out) == card["count"]
        trained_on = {s.subject for s in samples.where(split="train")}
        assert not trained_on & {s.subject for s in held_out}
        measured = evaluate(member.load(), held_out, EvalOptions(batch_size=256, show_progress=False))[MAIN]
        assert abs(measured["accuracy"] - card["accuracy"]) <= 0.005
        assert abs(measured["mean_class_accuracy"] - card["mean_class_accuracy"]) <= 0.005


def test_members_offer_their_entrys_attributes_as_torchvisions_weights_do():
    model = Pretrained.DEFAULT.load()
    assert model.config.class_names == ENTRY.config.class_names
    assert Pretrained.DEFAULT.path == ENTRY.path and Pretrained.DEFAULT.metadata is ENTRY.metadata
    with pytest.raises(AttributeError):
        Pretrained.DEFAULT.no_such_attribute  # noqa: B018 (the lookup is the test)


def test_entries_are_found_by_name_in_any_case():
    assert Pretrained.get(ENTRY.name.upper()) is ENTRY
    assert Pretrained.find("nope") is None
    shipped = "shipped: pcnn_mbv2_ferplus_ckplus48_gentle, pcnn_mbv2_ferplus, "
    with pytest.raises(KeyError, match=f"no pretrained model named 'nope'; {shipped}"):
        Pretrained.get("nope")


def test_the_recognizer_defaults_to_the_shipped_model_and_follows_its_framing():
    recognizer = Recognizer.from_pretrained(detector=None)
    assert recognizer.class_names == FERPLUS_CLASSES
    assert recognizer.framing == FaceFraming.from_dict(ENTRY.metadata.framing.to_dict())
    assert recognizer.temperature == ENTRY.metadata.calibration.temperature


def test_models_command_lists_the_entries_with_data_and_accuracy(capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert f"{ENTRY.name} (default)" in listing and "FERPlus" in listing
    assert f"{100 * ENTRY.metadata.metrics['test']['accuracy']:.2f} %" in listing
    assert main(["models", ENTRY.name]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["calibration"] == ENTRY.metadata.calibration.to_dict()


@pytest.mark.network
def test_predict_without_a_model_labels_the_faces_of_real_photos(pyfeat_data, capsys):
    photos = [str(pyfeat_data / name) for name in ("single_face.jpg", "multi_face.jpg")]
    assert main(["predict", *photos, "--quiet"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in records].count(photos[1]) == 5
    assert all(r["label"] in FERPLUS_CLASSES and abs(sum(r["probabilities"].values()) - 1) < 1e-4
               for r in records)
