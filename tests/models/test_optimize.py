import pytest
import torch
from torch import nn

from pcnn_fer.models import create_model, list_variants
from pcnn_fer.models.optimize import fold_batchnorm, optimize_for_inference


@pytest.mark.parametrize("variant", list_variants())
@pytest.mark.parametrize("switches", [{}, {"stn": False}, {"organs": False}])
def test_optimised_copy_gives_the_same_outputs(variant, switches):
    torch.manual_seed(0)
    model = create_model(variant, num_classes=5, input_size=96, **switches)
    # Non-trivial BatchNorm statistics, so folding has something to fold.
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, 96, 96))
    model.eval()
    images = torch.randn(3, 3, 96, 96)
    fast = optimize_for_inference(model)
    with torch.no_grad():
        expected, got = model(images), fast(images)
    for name in ("logits", "organ_logits", "per_organ_logits", "theta"):
        want, have = getattr(expected, name), getattr(got, name)
        if want is None:
            assert have is None
        else:
            torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "the original is left untouched"


def test_folding_refuses_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(create_model("pcnn_mbv2", input_size=96).train())


def test_an_optimised_copy_cannot_be_saved(tmp_path):
    fast = optimize_for_inference(create_model("pcnn_mbv2", input_size=96))
    with pytest.raises(ValueError, match="save the original"):
        fast.save_pretrained(tmp_path / "model")
