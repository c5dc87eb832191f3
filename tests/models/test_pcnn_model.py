"""PCNN: every variant trains end to end; parameter budget; ablation switches; input checks."""

from __future__ import annotations

import pytest
import torch

from pcnn_fer.models import ORGANS, PCNN, PCNNConfig, TwoPhaseLoss, count_parameters, create_model, list_variants


@pytest.fixture(scope="module")
def full_r18_parameters() -> int:
    return count_parameters(create_model("pcnn_r18", num_classes=7))


@pytest.fixture(scope="module")
def small_model() -> PCNN:
    return create_model("pcnn_mbv2", organs=False)


@pytest.mark.parametrize("variant", list_variants())
def test_every_parameter_learns_from_the_loss(variant: str) -> None:
    torch.manual_seed(0)
    model = create_model(variant, num_classes=4).train()
    # The STN's last layer starts at zero (identity warp), which blocks gradients to its first layer.
    torch.nn.init.normal_(model.stn_head[2].weight, std=1e-3)
    images = torch.randn(2, 3, 96, 96)

    output = model(images)
    assert output.logits.shape == (2, 4)
    assert output.organ_logits.shape == (2, 4)
    assert output.per_organ_logits.shape == (2, len(ORGANS), 4)
    assert output.theta.shape == (2, 2, 3)
    for name, tensor in output._asdict().items():
        assert torch.isfinite(tensor).all(), name
    torch.testing.assert_close(output.per_organ_logits.sum(dim=1), output.organ_logits)

    TwoPhaseLoss()(output, torch.tensor([0, 3])).backward()
    no_gradient = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_gradient == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_resnet18_variant_counts_only_used_parameters(full_r18_parameters: int) -> None:
    # The reference registers 82.6M parameters, of which its forward pass uses 25.9M.
    assert abs(full_r18_parameters - 25.9e6) <= 0.1e6


def test_without_stn_registration_is_the_identity(full_r18_parameters: int) -> None:
    model = create_model("pcnn_r18", stn=False).eval()
    assert not any(name.startswith("stn_head") for name, _ in model.named_parameters())
    with torch.no_grad():
        theta = model(torch.randn(2, 3, 64, 64)).theta
    torch.testing.assert_close(theta, torch.eye(2, 3).expand(2, 2, 3), rtol=0, atol=0)
    assert count_parameters(model) < full_r18_parameters


def test_without_organs_there_are_no_organ_outputs(full_r18_parameters: int) -> None:
    model = create_model("pcnn_r18", organs=False).eval()
    with torch.no_grad():
        output = model(torch.randn(2, 3, 64, 64))
    assert output.organ_logits is None and output.per_organ_logits is None
    assert output.logits.shape == (2, 7)
    assert not any(name.startswith(("organ_", "stn_")) for name, _ in model.named_parameters())
    assert count_parameters(model) < full_r18_parameters - 5 * count_parameters(model.global_trunk)


def _main_logits_react_to_organ_trunks(model: PCNN) -> bool:
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        before = model(images).logits
        for trunk in model.organ_trunks:
            trunk[0].weight.mul_(-2.0)
        return not torch.equal(before, model(images).logits)


def test_without_fusion_main_logits_ignore_organ_trunks() -> None:
    torch.manual_seed(0)
    assert _main_logits_react_to_organ_trunks(create_model("pcnn_r18"))
    torch.manual_seed(0)
    unfused = create_model("pcnn_r18", fusion=False)
    assert not unfused.config.stn  # registration only exists to fuse
    assert not _main_logits_react_to_organ_trunks(unfused)


@pytest.mark.parametrize("shape", [(3, 64, 64), (2, 1, 64, 64), (2, 4, 64, 64), (1, 2, 3, 64, 64)])
def test_wrong_rank_or_channels_is_refused(shape: tuple[int, ...], small_model: PCNN) -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        small_model(torch.zeros(shape))


@pytest.mark.parametrize(("field", "value"), [("input_size", "big"), ("input_size", 16), ("input_size", True),
                                              ("stn", "yes"), ("mean", (0.5, 0.5)), ("std", (0.2, 0.0, 0.2)),
                                              ("class_names", (1, 2, 3))])
def test_a_mistyped_config_field_is_refused_naming_it(field, value):
    with pytest.raises(ValueError, match=field):
        PCNNConfig(**{field: value})
