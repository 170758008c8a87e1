"""The config sections every task's runs share: the optimiser and schedule (timm) and the loop (epochs,
batch, seed, device, workers). Each task adds its model, data and augmentation sections
(``fdsl/tasks/<name>/config.py``); the machinery that fills them is :mod:`fdsl.configs`.
"""
from __future__ import annotations

import dataclasses

from fdsl.config_fields import cli
from fdsl.configs import Section
from fdsl.errors import check

SCHEDULES = ("cosine", "step", "multistep")
DEVICES = ("auto", "cpu", "cuda", "mps")
# timm's IMAGENET_DEFAULT_MEAN / _STD (not imported: this module stays cheap to import for the CLI).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass
class OptimConfig(Section):
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
class TrainConfig(Section):
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
