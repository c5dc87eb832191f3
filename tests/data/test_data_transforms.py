import numpy as np
import pytest
import torch
from PIL import Image

from pcnn_fer.data.preprocessing import Preprocessing, resize_square
from pcnn_fer.data.transforms import eval_transform, train_transform
from pcnn_fer.models.inputs import IMAGENET_MEAN, IMAGENET_STD


def test_eval_transform_resizes_and_normalises():
    image = np.full((30, 50, 3), (255, 0, 128), dtype=np.uint8)
    out = eval_transform(Preprocessing(64))(image)
    assert type(out) is torch.Tensor and out.dtype == torch.float32 and out.shape == (3, 64, 64)
    expected = [(v / 255 - m) / s for v, m, s in zip((255, 0, 128), IMAGENET_MEAN, IMAGENET_STD)]
    torch.testing.assert_close(out.mean(dim=(1, 2)), torch.tensor(expected), atol=1e-3, rtol=0)


def test_grey_and_pil_inputs_become_three_channels():
    grey = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    from_array = eval_transform(Preprocessing(32))(grey)
    from_pil = eval_transform(Preprocessing(32))(Image.fromarray(grey))
    assert from_array.shape == (3, 32, 32)
    torch.testing.assert_close(from_array, from_pil)
    torch.testing.assert_close(from_array[0] * IMAGENET_STD[0] + IMAGENET_MEAN[0],
                               from_array[2] * IMAGENET_STD[2] + IMAGENET_MEAN[2])


def test_train_transform_augments_randomly():
    image = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    transform = train_transform(Preprocessing(48))
    torch.manual_seed(0)
    outputs = [transform(image) for _ in range(8)]
    assert all(o.shape == (3, 48, 48) and o.dtype == torch.float32 for o in outputs)
    assert any(not torch.equal(outputs[0], o) for o in outputs[1:])
    plain = eval_transform(Preprocessing(48))(image)
    flipped = plain.flip(-1)
    # Horizontal flips happen (p = 0.5): some output matches the flipped image outside the erased/rotated ones.
    assert any(((o - flipped).abs() < 1e-4).float().mean() > 0.7 for o in outputs)


def test_train_transform_is_the_reference_recipe():
    steps = {type(step).__name__: step for step in train_transform(Preprocessing(224)).transforms}
    assert steps["Resize"].size == [224, 224]
    assert steps["RandomHorizontalFlip"].p == 0.5
    rotation, crop = steps["RandomApply"].transforms
    assert steps["RandomApply"].p == 0.2
    assert list(rotation.degrees) == [-20.0, 20.0]
    assert crop.size == (224, 224) and crop.padding == [32, 32, 32, 32]
    assert list(steps["Normalize"].mean) == list(IMAGENET_MEAN) and list(steps["Normalize"].std) == list(IMAGENET_STD)
    assert steps["RandomErasing"].scale == (0.02, 0.25) and steps["RandomErasing"].p == 0.5


def test_light_augmentation_shifts_zooms_and_flips_a_little():
    image = np.random.default_rng(2).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    transform = train_transform(Preprocessing(64), policy="light")
    steps = {type(step).__name__: step for step in transform.transforms}
    affine = steps["RandomAffine"]
    assert list(affine.degrees) == [-10.0, 10.0] and affine.translate == (0.08, 0.08) and affine.scale == (0.9, 1.1)
    assert steps["RandomErasing"].p == 0.25
    torch.manual_seed(0)
    outputs = [transform(image) for _ in range(6)]
    assert all(o.shape == (3, 64, 64) for o in outputs)
    assert len({o.sum().item() for o in outputs}) > 1


def test_no_augmentation_is_the_evaluation_transform_and_unknown_names_are_refused():
    image = np.random.default_rng(3).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    preprocessing = Preprocessing(64)
    plain = eval_transform(preprocessing)(image)
    torch.testing.assert_close(train_transform(preprocessing, policy="none")(image), plain)
    with pytest.raises(ValueError, match="augmentation 'heavy'; expected one of reference, light, wild, none"):
        train_transform(Preprocessing(64), policy="heavy")


def test_resize_square_is_the_transforms_resizer():
    image = np.random.default_rng(4).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    resized = resize_square(image, 64)
    assert resized.shape == (64, 64, 3) and resized.dtype == np.uint8
    by_transform = eval_transform(Preprocessing(64, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))(image)
    torch.testing.assert_close(torch.from_numpy(resized).permute(2, 0, 1).float() / 255, by_transform)


def test_one_preprocessing_from_the_config_feeds_the_eval_transform_and_the_recognizer_batch():
    from pcnn_fer.models import variant_config

    config = variant_config("pcnn_r18", num_classes=3, input_size=40, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    preprocessing = Preprocessing.of(config)
    assert preprocessing == Preprocessing(40, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    image = np.random.default_rng(5).integers(0, 256, (57, 71, 3), dtype=np.uint8)
    by_transform = eval_transform(preprocessing)(image)
    by_batch = preprocessing.to_batch([resize_square(image, preprocessing.size)])[0]
    torch.testing.assert_close(by_batch, by_transform, atol=0, rtol=0)
    steps = {type(step).__name__: step for step in train_transform(preprocessing).transforms}
    assert steps["Resize"].size == [40, 40] and list(steps["Normalize"].mean) == [0.5, 0.4, 0.3]
    with pytest.raises(ValueError, match="face crops must be 40x40x3"):
        preprocessing.to_batch([image])
