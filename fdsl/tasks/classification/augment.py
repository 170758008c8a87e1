"""Augmentation and loss from an :class:`AugmentConfig`: the training transform, through timm's
``create_transform`` on PIL images (``augment.backend: timm``, the default) or the same recipe in
torchvision transforms v2 on uint8 tensors (``v2``, faster: see :func:`v2_train_transform` and
``benchmarks/bench_loader.py``); with ``augment.on_device`` either one stops at uint8 and the
batch is finished on the training device (:func:`device_stage`); ``Mixup`` (mixup and CutMix on
whole batches, applied by the engine after the batch is on the device) and the matching loss
(soft targets under mixup, else label smoothing). Evaluation is timm's for both backends."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from PIL import Image, ImageOps
from torch import nn

from fdsl.errors import FdslError, check
from fdsl.tasks.classification.config import AUGMENT_BACKENDS, AugmentConfig


def build_transforms(augment: AugmentConfig) -> tuple[Callable, Callable]:
    """(training transform, evaluation transform) from PIL images to normalised float tensors;
    with ``augment.on_device`` the training transform gives uint8 tensors (C, H, W) instead,
    which :func:`device_stage` finishes batch by batch."""
    from timm.data import create_transform

    common = dict(input_size=augment.img_size, interpolation=augment.interpolation, mean=augment.mean, std=augment.std)
    evaluation = create_transform(is_training=False, crop_pct=augment.eval_crop_pct, **common)
    if augment.backend == "v2":
        return v2_train_transform(augment), evaluation
    if augment.backend != "timm":
        raise FdslError(f"augment.backend = {augment.backend!r}; valid: {', '.join(AUGMENT_BACKENDS)}")
    train = create_transform(
        is_training=True, scale=augment.scale, ratio=augment.ratio, hflip=augment.hflip, vflip=augment.vflip,
        color_jitter=augment.color_jitter, auto_augment=augment.auto_augment, re_prob=augment.re_prob,
        re_mode=augment.re_mode, use_prefetcher=augment.on_device, **common,
    )
    _allow_zero_bit_posterize(train)
    return train, evaluation


def device_stage(augment: AugmentConfig, device) -> Callable[[Iterable], Iterable] | None:
    """With ``augment.on_device``: a wrapper of the training loader (timm's ``PrefetchLoader``)
    that moves each uint8 batch to ``device`` (on a side stream on CUDA, overlapping the step
    before it), converts it to float, normalises it and applies random erasing (``re_prob``,
    ``re_mode``) to the batch there, as timm's own training script does with its prefetcher. A
    loader worker is left with rendering, the crop, flips and RandAugment, and sends a quarter of
    the bytes. None without ``on_device``.

    Same images as per-image normalisation (to float rounding: the tests compare them), and the
    same RandAugment draws; erasing is drawn in the training process (Python's and torch's
    generators, reseeded each epoch by the trainer), so it no longer depends on which worker
    made a batch."""
    if not augment.on_device:
        return None
    import torch
    from timm.data.loader import PrefetchLoader

    return functools.partial(PrefetchLoader, mean=augment.mean, std=augment.std, device=torch.device(device),
                             re_prob=augment.re_prob, re_mode=augment.re_mode)


#: timm's RandAugment levels run 0..10 (``_LEVEL_DENOM``): 11 bins put v2's magnitude on that scale.
RAND_AUGMENT_BINS = 11
#: timm's RandomErasing: area 2% to 1/3 of the image, log-uniform aspect ratio 0.3 to 3.3.
ERASING_SCALE, ERASING_RATIO = (0.02, 1 / 3), (0.3, 3.3)
#: re_mode -> v2.RandomErasing's value: timm's "pixel" is a normal draw per pixel, "const" zero
#: (the mean, after normalisation). timm's "rand" (one normal draw per channel) has no v2 form.
ERASING_VALUES = {"pixel": "random", "const": 0.0}


def parse_rand_augment(spec: str) -> tuple[int, int]:
    """(num_ops, magnitude) of a timm RandAugment string that the v2 backend can follow:
    ``rand-m<M>[-n<N>][-mstd<S>]-inc1`` (N defaults to 2; S is accepted and not applied, see
    :func:`v2_train_transform`). Anything else raises a one-line :class:`FdslError`."""
    name, *parts = spec.split("-")
    options = {}
    for part in parts:
        key, value = re.fullmatch(r"([a-z]*)(.*)", part).groups()
        options[key] = value
    valid = (name == "rand" and set(options) <= {"m", "n", "mstd", "inc"} and options.get("inc") == "1"
             and options.get("m", "").isdigit() and int(options["m"]) <= 10 and options.get("n", "2").isdigit())
    check(valid, f"augment.auto_augment = {spec!r} with augment.backend = 'v2'; valid: "
                 "'rand-m<0..10>[-n<N>][-mstd<S>]-inc1' (torchvision's RandAugment, timm's increasing ops)")
    return int(options.get("n", "2")), int(options["m"])


def check_v2_options(augment: AugmentConfig) -> None:
    """One-line errors for the options that :func:`v2_train_transform` cannot follow."""
    check(augment.interpolation in ("bilinear", "bicubic", "nearest"),
          f"augment.interpolation = {augment.interpolation!r} with augment.backend = 'v2'; "
          "valid: bilinear, bicubic, nearest")
    check(augment.on_device or augment.re_mode in ERASING_VALUES,
          f"augment.re_mode = {augment.re_mode!r} with augment.backend = 'v2'; valid: {', '.join(ERASING_VALUES)} "
          "(or augment.on_device, which erases with timm's RandomErasing)")
    if augment.auto_augment:
        parse_rand_augment(augment.auto_augment)


def v2_train_transform(augment: AugmentConfig) -> Callable:
    """timm's training recipe in torchvision transforms v2 on uint8 tensors: PIL image -> uint8
    tensor, RandomResizedCrop (config's scale, ratio, interpolation, antialiased), flips, then
    RandAugment (or colour jitter without it, as timm does), float and normalisation in one step
    (:class:`ToNormalisedFloat`), and random erasing with ``re_prob``. Random draws come from
    torch's global generator, which the loader workers seed per epoch
    (``loaders.seed_this_worker``): a seed gives the same tensors.

    The stream differs from timm's (same recipe, other draws), and RandAugment differs as follows.
    timm ``rand-m9-mstd0.5-inc1`` draws 2 of 15 ops (with replacement), applies each with
    probability 0.5 at a magnitude drawn per op from N(9, 0.5) clipped to 0..10. Here each of the
    ``n`` steps is ``RandomApply(v2.RandAugment(num_ops=1, magnitude=m, num_magnitude_bins=11),
    p=0.5)``, so the level scale (0..10), the draw with replacement and the probability 0.5 match,
    but:

    - op set: torchvision's 14 (Identity, ShearX/Y, TranslateX/Y, Rotate, Brightness, Color,
      Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize): no Invert and no
      SolarizeAdd, and an Identity op that timm lacks;
    - magnitude std: none, every op runs at exactly ``m`` (``mstd`` is accepted, not applied);
    - increasing ops: torchvision's enhance ops are timm's increasing ones (factor 1 +- 0.09 m,
      random sign), and so are Solarize (threshold 255 (1 - m/10)), Rotate (3 m degrees), Shear
      (0.03 m) and Translate (0.0453 m of the size; timm 0.045 m); so only ``inc1`` strings are
      accepted. Posterize is milder: 8 - round(0.4 m) bits kept (4 at m9) where timm's
      PosterizeIncreasing keeps 4 - int(0.4 m) (1 at m9);
    - geometric ops interpolate bilinearly (torchvision has no bicubic affine on tensors; timm
      uses the config's interpolation) and fill with the mean colour, as timm does.

    Random erasing: "pixel" and "const" modes (timm's "rand" has no v2 form), as in timm with
    one erased box and the same area and aspect-ratio ranges. With ``augment.on_device`` the
    transform ends after RandAugment, at uint8, and :func:`device_stage` does the rest with timm's
    RandomErasing (all three modes)."""
    from torchvision.transforms import v2

    check_v2_options(augment)
    steps = [v2.PILToTensor(), v2.RandomResizedCrop(
        augment.img_size, scale=augment.scale, ratio=augment.ratio, antialias=True,
        interpolation=v2.InterpolationMode(augment.interpolation))]
    if augment.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(augment.hflip))
    if augment.vflip > 0:
        steps.append(v2.RandomVerticalFlip(augment.vflip))
    if augment.auto_augment:
        num_ops, magnitude = parse_rand_augment(augment.auto_augment)
        fill = [round(255 * m) for m in augment.mean]
        steps += [v2.RandomApply([v2.RandAugment(
            num_ops=1, magnitude=magnitude, num_magnitude_bins=RAND_AUGMENT_BINS,
            interpolation=v2.InterpolationMode.BILINEAR, fill=fill)], p=0.5) for _ in range(num_ops)]
    elif augment.color_jitter:
        jitter = augment.color_jitter
        steps.append(v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter))
    if augment.on_device:  # device_stage finishes the batch
        return v2.Compose([*steps, v2.ToPureTensor()])
    steps.append(ToNormalisedFloat(augment.mean, augment.std))
    if augment.re_prob > 0:
        steps.append(v2.RandomErasing(augment.re_prob, scale=ERASING_SCALE, ratio=ERASING_RATIO,
                                      value=ERASING_VALUES[augment.re_mode]))
    return v2.Compose(steps)


class ToNormalisedFloat:
    """uint8 image tensor (C, H, W) -> float32 ``(x / 255 - mean) / std``, contiguous: v2's
    ``ToDtype(scale=True)`` and ``Normalize`` in one allocation. Contiguous on purpose: a crop
    that needs no resizing leaves ``PILToTensor``'s channels-last view, on which the per-channel
    arithmetic is about 5 times slower."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        import torch

        self.shift = torch.tensor(mean).view(-1, 1, 1) * 255
        self.scale = 1 / (torch.tensor(std).view(-1, 1, 1) * 255)

    def __call__(self, image):
        import torch

        return image.to(torch.float32, memory_format=torch.contiguous_format).sub_(self.shift).mul_(self.scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shift={self.shift.flatten().tolist()}, scale={self.scale.flatten().tolist()})"


def _posterize(image: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """Posterize that keeps 0..8 bits. timm's increasing posterize (RandAugment ``inc1``, as in
    DeiT's ``rand-m9-mstd0.5-inc1``) asks for 0 bits at the top magnitude, which Pillow < 13 turned
    into a black image and Pillow >= 13 rejects with a ValueError that would stop training."""
    if bits_to_keep >= 8:
        return image
    if bits_to_keep <= 0:
        return Image.new(image.mode, image.size)
    return ImageOps.posterize(image, bits_to_keep)


def _allow_zero_bit_posterize(transform) -> None:
    from timm.data.auto_augment import RandAugment

    for step in getattr(transform, "transforms", ()):
        if isinstance(step, RandAugment):
            for op in step.ops:
                if op.name.startswith("Posterize"):
                    op.aug_fn = _posterize


def mixup_and_loss(augment: AugmentConfig, num_classes: int) -> tuple[Callable | None, nn.Module]:
    """timm's Mixup (None when off) and the training loss that fits its targets."""
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy

    if augment.mixup > 0 or augment.cutmix > 0:
        mixup = Mixup(mixup_alpha=augment.mixup, cutmix_alpha=augment.cutmix,
                      label_smoothing=augment.label_smoothing, num_classes=num_classes)
        return mixup, SoftTargetCrossEntropy()
    return None, nn.CrossEntropyLoss(label_smoothing=augment.label_smoothing)
