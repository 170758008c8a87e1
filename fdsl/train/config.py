"""Typed configs of the training pipeline: one dataclass per component, a preset, then YAML, then
command-line overrides (``--set optim.lr=0.01``). The resolved config is saved in every run folder.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fdsl.config_fields import belongs_to, cli, is_free_form, sections
from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.errors import FdslError, check
from fdsl.numeric import to_number

SCHEDULES = ("cosine", "step", "multistep")
#: The training transform: timm's create_transform on PIL images, or the same recipe in torchvision
#: transforms v2 on uint8 tensors (faster per loader core; fdsl.train.augment.v2_train_transform).
AUGMENT_BACKENDS = ("timm", "v2")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: timm's RandomErasing modes: a normal draw per pixel, one per channel, or zero (the mean).
ERASING_MODES = ("pixel", "rand", "const")
# timm's IMAGENET_DEFAULT_MEAN / _STD (not imported: this module stays cheap to import for the CLI).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass
class ModelConfig:
    """A timm model by name; ``kwargs`` go to ``timm.create_model`` (e.g. a ViT's width and depth)."""

    name: str = dataclasses.field(default="resnet50", metadata=cli("--model", "timm model name (`fdsl models` lists them)"))
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("name"))
    drop_path: float | None = None


@dataclasses.dataclass
class AugmentConfig:
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
            from fdsl.train.augment import check_v2_options

            check_v2_options(self)


@dataclasses.dataclass
class OptimConfig:
    """Optimiser (any of ``timm.optim.list_optimizers()``) and learning-rate schedule (per step)."""

    opt: str = "adamw"
    lr: float = dataclasses.field(default=1e-3, metadata=cli(
        "--lr", "learning rate (scaled by the global batch when optim.lr_base_batch is set)"))
    #: When set, the learning rate is lr x global batch / lr_base_batch (DeiT: 5e-4 x batch / 512).
    lr_base_batch: int | None = None
    weight_decay: float = 0.05
    momentum: float = 0.9
    sched: str = "cosine"
    warmup_epochs: int = 0
    warmup_lr: float = 1e-6
    min_lr: float = 0.0
    #: "multistep": epochs at which the lr is multiplied by decay_rate; "step": every decay_epochs.
    decay_milestones: tuple[int, ...] = ()
    decay_epochs: float = 30.0
    decay_rate: float = 0.1
    #: Clip the gradient norm to this value (None: no clipping).
    clip_grad: float | None = None

    def validate(self) -> None:
        from timm.optim import list_optimizers

        valid = list_optimizers()
        check(self.opt in valid, f"unknown optimiser {self.opt!r}; valid: {', '.join(valid)}")
        check(self.sched in SCHEDULES, f"unknown schedule {self.sched!r}; valid: {', '.join(SCHEDULES)}")
        check(self.lr > 0, f"optim.lr = {self.lr}; allowed: > 0")
        check(self.warmup_epochs >= 0, f"optim.warmup_epochs = {self.warmup_epochs}; allowed: >= 0")
        check(self.clip_grad is None or self.clip_grad > 0, f"optim.clip_grad = {self.clip_grad}; allowed: > 0")
        check(self.lr_base_batch is None or self.lr_base_batch >= 1, "optim.lr_base_batch must be >= 1")


@dataclasses.dataclass
class TrainConfig:
    """The loop: epochs, batch size per process, seed, device, mixed precision, loader workers."""

    epochs: int = dataclasses.field(default=100, metadata=cli("--epochs", "training epochs"))
    batch_size: int = dataclasses.field(default=128, metadata=cli("--batch-size", "images per step and process"))
    seed: int = dataclasses.field(default=0, metadata=cli("--seed", "seed of initialisation, order and augmentation"))
    device: str = dataclasses.field(default="auto", metadata=cli("--device", "auto, cpu, cuda, cuda:N or mps"))
    #: Mixed precision where it applies (CUDA: bfloat16, or float16 with loss scaling); off on CPU.
    amp: bool = True
    workers: int = dataclasses.field(default=2, metadata=cli(
        "--workers", "DataLoader worker processes per training process"))
    #: torch threads of each training process (None: torch's default, one per core, or
    #: OMP_NUM_THREADS, which torchrun sets to 1).
    threads: int | None = None
    log_interval: int = 50
    #: Score the validation set every N epochs and after the last one (evaluation does not change
    #: training: every epoch reseeds every random source).
    eval_interval: int = 1
    #: Seconds a rank waits for the other ranks in a collective, or for a batch from its loader
    #: workers, before it stops with an error naming what it waited for (``--resume`` continues
    #: after the last finished epoch). A hang becomes an error instead of a silent wait.
    timeout_s: float = 300.0

    def validate(self) -> None:
        check(self.epochs >= 1, f"train.epochs = {self.epochs}; allowed: >= 1")
        check(self.batch_size >= 1, f"train.batch_size = {self.batch_size}; allowed: >= 1")
        check(self.workers >= 0, f"train.workers = {self.workers}; allowed: >= 0")
        check(self.threads is None or self.threads >= 1, f"train.threads = {self.threads}; allowed: >= 1 or null")
        check(self.device in DEVICES or self.device.startswith("cuda:"),
              f"unknown device {self.device!r}; valid: {', '.join(DEVICES)}, cuda:N")
        check(self.log_interval >= 1, f"train.log_interval = {self.log_interval}; allowed: >= 1")
        check(self.eval_interval >= 1, f"train.eval_interval = {self.eval_interval}; allowed: >= 1")
        check(self.timeout_s > 0, f"train.timeout_s = {self.timeout_s}; allowed: > 0")


@dataclasses.dataclass
class PretrainConfig:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: FormulaDataConfig = dataclasses.field(default_factory=FormulaDataConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def validate(self) -> None:
        for part in (self.data, self.augment, self.optim, self.train):
            part.validate()
        check_mixup_batch(self.augment, self.train)


@dataclasses.dataclass
class FinetuneConfig:
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

    def validate(self) -> None:
        for part in (self.data, self.augment, self.optim, self.train):
            part.validate()
        check_mixup_batch(self.augment, self.train)
        check(self.freeze >= 0, f"freeze = {self.freeze}; allowed: >= 0 (stages to freeze)")


def check_mixup_batch(augment: AugmentConfig, train: TrainConfig) -> None:
    # timm's Mixup pairs each image with the one mirrored in the batch, so the batch must be even.
    if augment.mixup or augment.cutmix:
        check(train.batch_size % 2 == 0, f"train.batch_size = {train.batch_size} must be even with mixup/cutmix")


# --- dict <-> dataclass ----------------------------------------------------------------------------
C = TypeVar("C")


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists), ready for YAML or JSON."""

    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


def from_dict(cls: type[C], values: dict[str, Any], *, where: str = "") -> C:
    """Build ``cls`` from a nested dict, converting and checking every value against the type hints."""
    check(isinstance(values, dict), f"config {section_name(where)} = {values!r}; expected a mapping of its keys")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        key = f"{where}{unknown[0]}"
        raise FdslError(f"unknown config key {key!r}; valid: {', '.join(where + n for n in names)}")
    return cls(**{name: _convert(values[name], hints[name], f"{where}{name}") for name in names if name in values})


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where=f"{key}.")
    if origin is tuple:
        check(isinstance(value, (list, tuple)), f"config {key!r} = {value!r}; expected a list")
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        check(len(kinds) == len(value), f"config {key!r} = {value!r}; expected {len(kinds)} values")
        return tuple(_convert(v, k, key) for v, k in zip(value, kinds))
    if is_free_form(hint):
        check(isinstance(value, dict), f"config {key!r} = {value!r}; expected a mapping")
        return dict(value)
    if hint in (int, float):  # also "2e-3" (a string to YAML 1.1) and "1_000"
        number = to_number(value, hint, f"config {key!r}")
        # no setting takes an infinite or NaN value; inf would pass the checks of the form "lr > 0"
        check(math.isfinite(number), f"config {key!r} = {value!r}; allowed: a finite number")
        return number
    if hint is Any or (isinstance(hint, type) and isinstance(value, hint)):
        return value
    raise FdslError(f"config {key!r} = {value!r}; expected {getattr(hint, '__name__', hint)}")


def section_name(where: str) -> str:
    """``"data."`` -> ``"section 'data'"``; the root of a config has no prefix."""
    return f"section {where.rstrip('.')!r}" if where else "root"


def merge(base: dict[str, Any], overrides: dict[str, Any], cls: type, where: str = "") -> dict[str, Any]:
    """``base`` with ``overrides`` applied key by key: the sections of the config dataclass ``cls``
    are merged in turn; any other value, a free-form mapping included, replaces the base's. An
    empty section (``train:`` with every key commented out reads as None) changes nothing; a
    section given a value that is not a mapping is an error naming it."""
    merged = dict(base)
    parts = sections(cls)
    for key, value in overrides.items():
        if key not in parts:
            merged[key] = value
        elif value is not None:
            check(isinstance(value, dict),
                  f"config {section_name(f'{where}{key}.')} = {value!r}; expected a mapping of its keys")
            inner = merged.get(key)
            merged[key] = merge(inner if isinstance(inner, dict) else {}, value, parts[key], f"{where}{key}.")
    return merged


def parse_assignment(text: str) -> dict[str, Any]:
    """``"optim.lr=0.01"`` -> ``{"optim": {"lr": 0.01}}`` (the value is read as YAML)."""
    key, sep, raw = text.partition("=")
    check(bool(sep) and bool(key.strip()), f"override {text!r} is malformed; allowed: KEY=VALUE, e.g. optim.lr=0.01")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise FdslError(f"override {text!r}: the value is not valid YAML") from None
    return nest(key.strip().split("."), value)


def nest(path: list[str], value: Any) -> dict[str, Any]:
    """``["optim", "lr"], 0.01`` -> ``{"optim": {"lr": 0.01}}``."""
    for part in reversed(path):
        value = {part: value}
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    check(path.is_file(), f"config file {str(path)!r} does not exist")
    try:
        values = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
    except OSError as error:
        raise FdslError(f"cannot read config file {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise FdslError(f"config file {str(path)!r} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at "
                        f"offset {error.start}); save it as UTF-8") from None
    except yaml.YAMLError as error:
        raise FdslError(f"config file {str(path)!r} is not valid YAML: {str(error).splitlines()[0]}") from None
    check(isinstance(values, dict), f"config file {str(path)!r} must hold a mapping")
    return values


def merged(base: C, *layers: dict[str, Any]) -> dict[str, Any]:
    """The values of ``base`` with each layer of overrides applied in turn (not yet checked)."""
    values = to_dict(base)
    for layer in layers:
        values = merge(values, layer, type(base))
    return values


def resolve(base: C, *layers: dict[str, Any]) -> C:
    """``base`` with each layer of overrides applied in turn, converted, type-checked, completed
    (:func:`complete`) and validated."""
    config = complete(from_dict(type(base), merged(base, *layers)))
    config.validate()
    return config


def complete(config: C) -> C:
    """``config`` with every default filled in: each section that has a ``completed()`` method (a
    family's options: every option of the family's config) returns itself complete."""
    parts = {name: complete(getattr(config, name)) for name in sections(type(config))}
    config = dataclasses.replace(config, **parts) if parts else config
    return config.completed() if hasattr(config, "completed") else config


def dump_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)
