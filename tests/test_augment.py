"""The augmentation backends: timm's create_transform (default) and its recipe in torchvision v2."""
from __future__ import annotations

import dataclasses
import pickle
import random

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torchvision.transforms.v2 import functional as F

from fdsl.errors import FdslError
from fdsl.tasks.classification.augment import build_transforms, device_stage
from fdsl.tasks.classification.config import AugmentConfig
from fdsl.tasks.classification.presets import pretrain_preset
from fdsl.train.run import pretrain
from train_helpers import tiny_pretrain

#: The DeiT recipe with per-image normalisation (the preset finishes batches on the device).
DEIT = dataclasses.replace(pretrain_preset("fractaldb-deit-tiny").augment, on_device=False)


def fractal_like(size: int = 96, seed: int = 0) -> Image.Image:
    """A grey shape on black, as FractalDB renders (RGB)."""
    pixels = np.zeros((size, size, 3), np.uint8)
    rng = np.random.default_rng(seed)
    points = rng.integers(size // 4, 3 * size // 4, (400, 2))
    pixels[points[:, 0], points[:, 1]] = 255
    return Image.fromarray(pixels)


def v2_config(**changes) -> AugmentConfig:
    return dataclasses.replace(DEIT, backend="v2", img_size=64, **changes)


def test_v2_gives_normalised_float_images_of_the_configured_size():
    train, _ = build_transforms(v2_config())
    torch.manual_seed(0)
    image = train(fractal_like())
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    # without random steps (whole image, no RandAugment or erasing): the resized pixels / 255,
    # normalised with the config's mean and std
    plain, _ = build_transforms(v2_config(scale=(1.0, 1.0), ratio=(1.0, 1.0), auto_augment=None, color_jitter=None,
                                          re_prob=0.0))
    pixels = torch.from_numpy(np.array(fractal_like())).permute(2, 0, 1)
    resized = F.resize(pixels, [64, 64], interpolation=F.InterpolationMode.BICUBIC, antialias=True)
    mean, std = torch.tensor(DEIT.mean)[:, None, None], torch.tensor(DEIT.std)[:, None, None]
    assert torch.allclose(plain(fractal_like()), (resized / 255 - mean) / std, atol=1e-5)


def test_v2_is_deterministic_under_the_same_torch_seed():
    train, _ = build_transforms(v2_config(re_prob=1.0))
    images = [fractal_like(seed=s) for s in range(4)]

    def stream(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return [train(image) for image in images]

    first, again, other = stream(3), stream(3), stream(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    # a loader worker gets a pickled copy: the same stream from the same seed
    train = pickle.loads(pickle.dumps(train))
    assert all(torch.equal(a, b) for a, b in zip(first, stream(3)))


def test_v2_follows_the_presets_recipe():
    train, _ = build_transforms(v2_config())
    names = [type(step).__name__ for step in train.transforms]
    assert names == ["PILToTensor", "RandomResizedCrop", "RandomApply", "RandomApply", "ToNormalisedFloat",
                     "RandomErasing"]
    crop, rand_augment = train.transforms[1], train.transforms[2].transforms[0]
    assert (crop.scale, crop.ratio, crop.interpolation.value) == (DEIT.scale, DEIT.ratio, "bicubic")
    assert (rand_augment.num_ops, rand_augment.magnitude, rand_augment.num_magnitude_bins) == (1, 9, 11)
    assert train.transforms[-1].p == DEIT.re_prob
    # no RandAugment: colour jitter and flips, as timm does
    names = [type(s).__name__ for s in build_transforms(v2_config(auto_augment=None, hflip=0.5))[0].transforms]
    assert "ColorJitter" in names and "RandomHorizontalFlip" in names


def test_timm_stays_the_default():
    assert AugmentConfig().backend == "timm"
    train, _ = build_transforms(dataclasses.replace(DEIT, img_size=64))
    assert type(train.transforms[1]).__name__ == "RandAugment"


@pytest.mark.parametrize("changes, needle", [
    ({"backend": "pil"}, "augment.backend = 'pil'; valid: timm, v2"),
    ({"backend": "v2", "auto_augment": "rand-m9-mstd0.5"}, "augment.auto_augment = 'rand-m9-mstd0.5' with"),
    ({"backend": "v2", "re_mode": "rand"}, "augment.re_mode = 'rand' with augment.backend = 'v2'"),
])
def test_bad_backend_options_fail_in_one_line(changes, needle):
    with pytest.raises(FdslError, match=needle) as error:
        dataclasses.replace(DEIT, **changes).validate()
    assert "\n" not in str(error.value)


def test_the_backend_is_a_config_key_of_pretrain(run_cli):
    code, out, err = run_cli("pretrain", "--preset", "fractaldb-deit-tiny", "--set", "augment.backend=v2",
                             "-o", "unused", "--print-config")
    assert code == 0, err
    assert yaml.safe_load(out)["augment"]["backend"] == "v2"
    code, _, err = run_cli("pretrain", "--set", "augment.backend=pil", "-o", "unused")
    assert code == 2 and err.count("\n") == 1 and "augment.backend = 'pil'; valid: timm, v2" in err, err


def seeded(transform, image):
    random.seed(1)  # timm draws from Python's and NumPy's generators, v2 from torch's
    np.random.seed(1)
    torch.manual_seed(1)
    return transform(image)


@pytest.mark.parametrize("backend", ["timm", "v2"])
def test_on_device_sends_uint8_that_the_device_stage_turns_into_the_same_images(backend):
    augment = dataclasses.replace(DEIT, backend=backend, img_size=64, re_prob=0.0)
    per_image, _ = build_transforms(augment)
    on_device = dataclasses.replace(augment, on_device=True)
    crops, _ = build_transforms(on_device)
    images = [fractal_like(seed=s) for s in range(3)]
    crop = [seeded(crops, image) for image in images]
    assert all(c.dtype == torch.uint8 and c.shape == (3, 64, 64) for c in crop)
    [(batch, labels)] = list(device_stage(on_device, "cpu")([(torch.stack(crop), torch.arange(3))]))
    expected = torch.stack([seeded(per_image, image) for image in images])
    assert batch.dtype == torch.float32 and labels.tolist() == [0, 1, 2]
    torch.testing.assert_close(batch, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["const", "pixel"])
def test_the_device_stage_erases_each_image_of_the_batch(mode):
    augment = dataclasses.replace(DEIT, img_size=64, on_device=True, re_prob=1.0, re_mode=mode)
    crops = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    [(erased, _)] = list(device_stage(augment, "cpu")([(crops, torch.zeros(4))]))
    [(plain, _)] = list(device_stage(dataclasses.replace(augment, re_prob=0.0), "cpu")([(crops, torch.zeros(4))]))
    changed = (erased != plain).all(dim=1).flatten(1).sum(dim=1)  # pixels changed in every channel
    assert (changed >= 0.02 * 64 * 64 * 0.9).all(), changed  # timm erases 2% to 1/3 of each image
    if mode == "const":
        assert (erased[erased != plain] == 0).all()
    assert device_stage(dataclasses.replace(augment, on_device=False), "cpu") is None


@pytest.mark.slow  # trains a model
def test_pretraining_with_on_device_equals_per_image_normalisation(tmp_path):
    # RandAugment in a worker process, normalisation moved to the batch: same images, same training
    layer = {"augment": {"auto_augment": "rand-m9-mstd0.5-inc1", "re_prob": 0.0}, "train": {"epochs": 1, "workers": 1}}
    per_image = pretrain(tiny_pretrain(layer), tmp_path / "per-image")
    on_device = pretrain(tiny_pretrain(layer, {"augment": {"on_device": True}}), tmp_path / "on-device")
    assert on_device.history[0]["train_loss"] == pytest.approx(per_image.history[0]["train_loss"], rel=1e-4)
    assert on_device.history[0]["val_top1"] == per_image.history[0]["val_top1"]
    saved = yaml.safe_load((tmp_path / "on-device" / "config.yaml").read_text())
    assert saved["augment"]["on_device"] is True


def test_on_device_lifts_the_v2_erasing_mode_limit():
    dataclasses.replace(DEIT, backend="v2", re_mode="rand", on_device=True).validate()
    with pytest.raises(FdslError, match="augment.re_mode = 'noise'; valid: pixel, rand, const"):
        dataclasses.replace(DEIT, re_mode="noise").validate()
