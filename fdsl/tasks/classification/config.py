"""Typed configs of image classification: the timm model, the training transform (timm's, or its recipe
in torchvision v2), and the pre-training (formula images) and fine-tuning (real images) run configs
over the shared optimiser and loop sections (:mod:`fdsl.train.config`)."""
from __future__ import annotations

import dataclasses
from typing import Any

from fdsl.config_fields import belongs_to, cli
from fdsl.configs import RunConfig, Section
from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.errors import check
from fdsl.train.config import IMAGENET_MEAN, IMAGENET_STD, OptimConfig, TrainConfig

#: The training transform: timm's create_transform on PIL images, or the same recipe in torchvision
#: transforms v2 on uint8 tensors (faster per loader core; fdsl.tasks.classification.augment.v2_train_transform).
AUGMENT_BACKENDS = ("timm", "v2")
#: timm's RandomErasing modes: a normal draw per pixel, one per channel, or zero (the mean).
ERASING_MODES = ("pixel", "rand", "const")


@dataclasses.dataclass
class ModelConfig(Section):
    """A timm model by name; ``kwargs`` go to ``timm.create_model`` (e.g. a ViT's width and depth)."""

    name: str = dataclasses.field(default="resnet50", metadata=cli("--model", "timm model name (`fdsl models` lists them)"))
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("name"))
    drop_path: float | None = None


@dataclasses.dataclass
class AugmentConfig(Section):
    """The training transform (timm's ``create_transform``, or its recipe in torchvision v2),
    Mixup/CutMix and the loss."""

    #: "timm" (PIL, the default) or "v2" (uint8 tensors; see fdsl.train.augment.v2_train_transform).
    backend: str = "timm"
    #: Loader workers stop at uint8 crops; the float conversion, normalisation and random erasing
    #: run on the whole batch on the training device (timm's PrefetchLoader). For GPUs: see
    #: fdsl.train.augment.device_stage.
    on_device: bool = False
    img_size: int = 224
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    vflip: float = 0.0
    color_jitter: float | None = 0.4
    #: e.g. "rand-m9-mstd0.5-inc1" (RandAugment); timm turns colour jitter off when it is set.
    auto_augment: str | None = None
    interpolation: str = "bilinear"
    re_prob: float = 0.0
    re_mode: str = "pixel"
    mixup: float = 0.0
    cutmix: float = 0.0
    label_smoothing: float = 0.0
    #: Evaluation: resize to img_size / crop_pct, then centre-crop img_size.
    eval_crop_pct: float = 1.0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def validate(self) -> None:
        check(self.img_size >= 8, f"augment.img_size = {self.img_size}; allowed: >= 8")
        check(0 < self.scale[0] <= self.scale[1] <= 1, f"augment.scale = {self.scale}; allowed: 0 < low <= high <= 1")
        for name in ("hflip", "vflip", "re_prob", "label_smoothing"):
            value = getattr(self, name)
            check(0.0 <= value <= 1.0, f"augment.{name} = {value}; allowed: [0, 1]")
        check(self.mixup >= 0 and self.cutmix >= 0, "augment.mixup and augment.cutmix must be >= 0")
        check(0 < self.eval_crop_pct <= 1, f"augment.eval_crop_pct = {self.eval_crop_pct}; allowed: (0, 1]")
        check(self.backend in AUGMENT_BACKENDS,
              f"augment.backend = {self.backend!r}; valid: {', '.join(AUGMENT_BACKENDS)}")
        check(self.re_mode in ERASING_MODES, f"augment.re_mode = {self.re_mode!r}; valid: {', '.join(ERASING_MODES)}")
        if self.backend == "v2":
            from fdsl.tasks.classification.augment import check_v2_options

            check_v2_options(self)


#: What pre-training learns: the formula's labels, or a self-supervised objective that ignores them
#: (:mod:`fdsl.tasks.classification.selfsup`).
OBJECTIVES = ("supervised", "simclr", "moco")


@dataclasses.dataclass
class ObjectiveConfig(Section):
    """What pre-training optimises: ``supervised`` (cross-entropy on the formula's categories), or
    SimCLR / MoCo v2 on two augmented views of each image, labels unused (lightly's losses, heads and
    view transforms). Unset values take the papers' (SimCLR on CIFAR-10: temperature 0.5; MoCo v2:
    0.2, momentum 0.99, a queue of 4,096 keys as lightly's CIFAR-10 benchmark)."""

    name: str = dataclasses.field(default="supervised", metadata=cli(
        "--objective", f"what pre-training learns: {', '.join(OBJECTIVES)} (self-supervised: labels unused)"))
    temperature: float | None = None
    #: The projection head: hidden width and output size (the SimCLR / MoCo v2 head's 128-d output).
    hidden_dim: int = 512
    output_dim: int = 128
    #: MoCo: the key encoder's exponential-moving-average momentum and the queue of negative keys.
    momentum: float = 0.99
    queue: int = 4096

    @property
    def self_supervised(self) -> bool:
        return self.name != "supervised"

    def validate(self) -> None:
        check(self.name in OBJECTIVES, f"objective.name = {self.name!r}; valid: {', '.join(OBJECTIVES)}")
        check(self.temperature is None or self.temperature > 0,
              f"objective.temperature = {self.temperature}; allowed: > 0 or null")
        check(self.hidden_dim >= 1 and self.output_dim >= 1,
              f"objective.hidden_dim / output_dim = {self.hidden_dim} / {self.output_dim}; allowed: >= 1")
        check(0.0 <= self.momentum < 1.0, f"objective.momentum = {self.momentum}; allowed: [0, 1)")
        check(self.queue >= 1, f"objective.queue = {self.queue}; allowed: >= 1")


@dataclasses.dataclass
class PretrainConfig(RunConfig):
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: FormulaDataConfig = dataclasses.field(default_factory=FormulaDataConfig)
    objective: ObjectiveConfig = dataclasses.field(default_factory=ObjectiveConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def check(self) -> None:
        check_mixup_batch(self.augment, self.train)


@dataclasses.dataclass
class FinetuneConfig(RunConfig):
    #: The architecture when starting from scratch or from timm's weights; a checkpoint brings its own.
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    #: None: from scratch; "timm": timm's pretrained weights of model.name (downloaded); otherwise
    #: fdsl weights: a run folder, a weights folder (model.safetensors + config.json) or a .safetensors file.
    init: str | None = dataclasses.field(default=None, metadata=cli(
        "--init", "fdsl weights (run folder, weights folder or .safetensors), 'timm' for timm's pretrained "
                  "weights of --model; default: from scratch"))
    #: Replace the classifier when the checkpoint's classes differ from the dataset's.
    new_head: bool = dataclasses.field(default=False, metadata=cli(
        "--new-head", "a new classifier for the dataset's classes"))
    #: Freeze the stem and the first N stages (ViT: patch/position embedding and N blocks; ResNet:
    #: stem and layer1..N); stages are timm's coarse group_matcher groups (fdsl/train/freeze.py).
    freeze: int = dataclasses.field(default=0, metadata=cli(
        "--freeze", "freeze the stem and the first K stages (ViT: patch/position embedding + K blocks; "
                    "ResNet: stem + layer1..K)"))
    #: Train the classifier only (everything else frozen); overrides ``freeze``.
    linear_probe: bool = dataclasses.field(default=False, metadata=cli(
        "--linear-probe", "train only the classifier (everything else frozen)"))
    data: RealDataConfig = dataclasses.field(default_factory=RealDataConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def check(self) -> None:
        check_mixup_batch(self.augment, self.train)
        check(self.freeze >= 0, f"freeze = {self.freeze}; allowed: >= 0 (stages to freeze)")


def check_mixup_batch(augment: AugmentConfig, train: TrainConfig) -> None:
    # timm's Mixup pairs each image with the one mirrored in the batch, so the batch must be even.
    if augment.mixup or augment.cutmix:
        check(train.batch_size % 2 == 0, f"train.batch_size = {train.batch_size} must be even with mixup/cutmix")
