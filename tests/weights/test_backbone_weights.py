"""Backbone init weights: MS-Celeb-style files, torchvision files, the torch.hub cache, the pinned ImageNet file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from pcnn_fer.models import create_model
from pcnn_fer.weights import backbones
from pcnn_fer.weights.backbones import load_backbone_weights
from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import sha256_of


def _torchvision_state(name: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).state_dict()


def test_ms_celeb_style_file_drops_the_identity_classifier(tmp_path: Path) -> None:
    # FER repos' MS-Celeb-1M ResNet-18: DataParallel keys under 'state_dict', a face-identity fc of its own size.
    state = {k: v for k, v in _torchvision_state("resnet18").items() if not k.startswith("fc.")}
    identities = {"fc.weight": torch.randn(300, 512), "fc.bias": torch.randn(300)}
    wrapped = {f"module.{k}": v for k, v in {**state, **identities}.items()}
    torch.save({"epoch": 30, "arch": "resnet18", "state_dict": wrapped}, tmp_path / "resnet18_msceleb.pth")

    loaded = load_backbone_weights(tmp_path / "resnet18_msceleb.pth", "resnet18")

    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    model = create_model("pcnn_r18")
    model.init_backbone(loaded)
    for trunk in [model.global_trunk, *model.organ_trunks]:
        assert torch.equal(trunk[0].weight, state["conv1.weight"])
    assert torch.equal(model.final_stage[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_plain_torchvision_file_for_mobilenet(tmp_path: Path) -> None:
    state = _torchvision_state("mobilenet_v2")
    torch.save(state, tmp_path / "mobilenet_v2.pth")
    loaded = load_backbone_weights(str(tmp_path / "mobilenet_v2.pth"), "mobilenet_v2")
    assert not any(k.startswith("classifier.") for k in loaded)
    assert torch.equal(loaded["features.18.1.running_var"], state["features.18.1.running_var"])


def test_weights_of_another_backbone_are_refused(tmp_path: Path) -> None:
    torch.save(_torchvision_state("mobilenet_v2"), tmp_path / "mobilenet_v2.pth")
    with pytest.raises(ValueError, match=r"mobilenet_v2\.pth does not hold resnet18 weights: \d+ keys missing"):
        load_backbone_weights(tmp_path / "mobilenet_v2.pth", "resnet18")
    state = _torchvision_state("resnet18")
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match=r"layer1\.0\.conv1\.weight has shape \(64, 64, 1, 1\)"):
        load_backbone_weights(tmp_path / "odd.pth", "resnet18")


def test_imagenet_resnet18_is_only_taken_from_the_torch_hub_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"hub/checkpoints/resnet18-f37072fd\.pth.*local"):
        load_backbone_weights("imagenet", "resnet18")

    # A file whose name carries its hash prefix, as torchvision's do, is found and checked.
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    staged = checkpoints / "staged.pth"
    torch.save(_torchvision_state("resnet18"), staged)
    named = staged.rename(checkpoints / f"resnet18-{sha256_of(staged)[:8]}.pth")
    monkeypatch.setattr(backbones, "RESNET18_IMAGENET_URL", f"https://example.invalid/{named.name}")
    assert torch.equal(load_backbone_weights("imagenet", "resnet18")["conv1.weight"],
                       _torchvision_state("resnet18")["conv1.weight"])

    named.rename(checkpoints / "resnet18-00000000.pth")
    monkeypatch.setattr(backbones, "RESNET18_IMAGENET_URL", "https://example.invalid/resnet18-00000000.pth")
    with pytest.raises(ValueError, match="does not match the hash in its name"):
        load_backbone_weights("imagenet", "resnet18")


@pytest.mark.network
def test_pcnn_mbv2_starts_from_the_pinned_imagenet_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    loaded = load_backbone_weights("imagenet", "mobilenet_v2")
    pinned = pinned_file("mobilenet_v2_imagenet")
    assert sha256_of(pinned.fetch()) == pinned.sha256
    model = create_model("pcnn_mbv2")
    model.init_backbone(loaded)
    for trunk in [model.global_trunk, *model.organ_trunks]:
        assert torch.equal(trunk[0][0].weight, loaded["features.0.0.weight"])
    assert torch.equal(model.final_stage[-1][0].weight, loaded["features.18.0.weight"])
