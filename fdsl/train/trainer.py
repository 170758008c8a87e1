"""The epoch loop that pre-training and fine-tuning share: loaders, optimiser and schedule (timm),
resume, metrics (CSV and TensorBoard) and checkpoints, alone or under torchrun.

Resuming gives the same weights as an uninterrupted run: every source of randomness is reseeded
from (seed, epoch, rank) at the start of each epoch (the loader's shuffling and worker seeds, and
the global torch / NumPy / Python generators that timm's Mixup, RandomErasing and drop-path draw
from), and the model, optimiser, scaler and history are restored from the last finished epoch.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from fdsl.errors import check
from fdsl.atomic import write_text_atomic
from fdsl.seeding import derive_rng
from fdsl.train import checkpoint, distributed
from fdsl.train.augment import mixup_and_loss
from fdsl.train.config import FinetuneConfig, PretrainConfig
from fdsl.train.engine import Precision, evaluate, train_one_epoch
from fdsl.train.models import count_parameters

log = logging.getLogger(__name__)

TRAIN_STREAM, INIT_STREAM = "train", "init"
METRICS_FILE = "metrics.csv"
METRICS = ("epoch", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "images_per_s", "epoch_s")


@dataclasses.dataclass
class FitResult:
    out: Path
    history: list[dict[str, float]]

    @property
    def last(self) -> dict[str, float]:
        return self.history[-1]

    @property
    def best(self) -> dict[str, float] | None:
        scored = [row for row in self.history if row.get("val_top1") is not None]
        return max(scored, key=lambda row: row["val_top1"]) if scored else None

    @classmethod
    def read(cls, out: Path) -> "FitResult":
        """The result of a run that another process trained, from its folder's metrics.csv."""
        return cls(Path(out), read_metrics(out))


def seed_epoch(seed: int, epoch: int, rank: int) -> int:
    """Reseed torch, NumPy and Python's global generators for this epoch; returns the seed used."""
    value = int(derive_rng(seed, TRAIN_STREAM, epoch, rank).integers(2**62))
    torch.manual_seed(value)
    np.random.seed(value % 2**32)
    random.seed(value)
    return value


def seed_init(seed: int) -> None:
    """The same model initialisation on every rank and every run with this seed."""
    torch.manual_seed(int(derive_rng(seed, INIT_STREAM).integers(2**62)))


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None,
    *,
    config: PretrainConfig | FinetuneConfig,
    out: Path,
    label_names: list[str],
    context: distributed.Context,
    state: dict[str, Any] | None,
    meta: dict[str, Any],
) -> FitResult:
    """Train ``model`` for ``config.train.epochs`` epochs (from ``state`` when resuming), scoring
    ``val_set`` each epoch; rank 0 writes metrics, weights (last/, best/) and the state to ``out``."""
    train, optim = config.train, config.optim
    device = context.device
    if train.threads is not None:
        torch.set_num_threads(train.threads)
    generator = torch.Generator()
    train_loader, val_loader = _loaders(train_set, val_set, config, context, generator)
    global_batch = train.batch_size * context.world_size
    lr = optim.lr * global_batch / optim.lr_base_batch if optim.lr_base_batch else optim.lr

    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2

    model.to(device)
    optimizer = create_optimizer_v2(model, opt=optim.opt, lr=lr, weight_decay=optim.weight_decay,
                                    momentum=optim.momentum)
    scheduler, _ = create_scheduler_v2(
        optimizer, sched=optim.sched, num_epochs=train.epochs, decay_epochs=optim.decay_epochs,
        decay_milestones=list(optim.decay_milestones), decay_rate=optim.decay_rate, min_lr=optim.min_lr,
        warmup_lr=optim.warmup_lr, warmup_epochs=optim.warmup_epochs, step_on_epochs=False,
        updates_per_epoch=len(train_loader),
    )
    precision = Precision.choose(device, train.amp)
    mixup, loss_fn = mixup_and_loss(config.augment, len(label_names))
    history: list[dict[str, float]] = []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if precision.scaler is not None and state.get("scaler"):
            precision.scaler.load_state_dict(state["scaler"])
        history = list(state["history"])
    start_epoch = len(history)
    network = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if context.distributed else model

    log.info("%s: %s (%.2fM parameters), %d classes, %d training images/epoch%s, batch %d x %d process(es), "
             "lr %.3g, device %s%s", meta["task"], config.model.name, count_parameters(model) / 1e6,
             len(label_names), len(train_set), f", {len(val_set)} validation" if val_set else "",
             train.batch_size, context.world_size, lr, device.type,
             f"; resuming after epoch {start_epoch}" if start_epoch else "")
    metrics = _MetricsLog(out, start_epoch) if context.is_primary else None
    result = FitResult(out, history)
    for epoch in range(start_epoch, train.epochs):
        generator.manual_seed(seed_epoch(train.seed, epoch, context.rank))
        if hasattr(train_set, "set_epoch"):  # data that changes per epoch (data.instances_per_epoch)
            train_set.set_epoch(epoch)
        if isinstance(train_loader.sampler, DistributedSampler):
            train_loader.sampler.set_epoch(epoch)
        scheduler.step_update(num_updates=epoch * len(train_loader))
        stats = train_one_epoch(network, train_loader, optimizer, loss_fn=loss_fn, device=device, epoch=epoch,
                                precision=precision, mixup=mixup, clip_grad=optim.clip_grad, scheduler=scheduler,
                                num_updates=epoch * len(train_loader), log_interval=train.log_interval)
        due = (epoch + 1) % train.eval_interval == 0 or epoch + 1 == train.epochs
        scores = evaluate(network, val_loader, device=device, precision=precision) if val_loader and due else {}
        row = {"epoch": epoch + 1, "train_loss": stats["loss"], "val_loss": scores.get("loss"),
               "val_top1": scores.get("top1"), "val_top5": scores.get("top5"), "lr": stats["lr"],
               "images_per_s": stats["images_per_s"], "epoch_s": stats["time_s"]}
        history.append(row)
        log.info("epoch %d/%d train loss %.4f%s | %.0f img/s, %.1f s", epoch + 1, train.epochs, stats["loss"],
                 f" | val loss {scores['loss']:.4f} top-1 {scores['top1']:.2f} top-5 {scores['top5']:.2f}"
                 if scores else "", stats["images_per_s"], stats["time_s"])
        if context.is_primary:
            weights_meta = {**meta, "epoch": epoch + 1, "metrics": row}
            checkpoint.save_weights(model, out / "last", label_names=label_names, augment=config.augment,
                                    meta=weights_meta)
            if result.best is row:  # the first epoch with the highest validation top-1
                checkpoint.save_weights(model, out / "best", label_names=label_names, augment=config.augment,
                                        meta=weights_meta)
            checkpoint.save_state(out / checkpoint.STATE_FILE, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": precision.scaler.state_dict() if precision.scaler is not None else {},
                "history": history,
            })
            metrics.write(history)
    if context.is_primary:
        metrics.close()
        write_text_atomic(out / checkpoint.SUMMARY_FILE, json.dumps(
            {"task": meta["task"], "epochs": len(history), "last": result.last, "best": result.best}, indent=1))
    distributed.barrier()  # nobody reads the run folder before rank 0 has finished writing it
    return result


def _loaders(train_set: Dataset, val_set: Dataset | None, config, context: distributed.Context,
             generator: torch.Generator) -> tuple[DataLoader, DataLoader | None]:
    train = config.train
    share = len(train_set) // context.world_size
    check(train.batch_size <= share,
          f"batch size {train.batch_size} is larger than the {share} training images"
          f"{' per process' if context.distributed else ''}; lower --batch-size")
    pin = context.device.type == "cuda"
    sampler = distributed.train_sampler(train_set, context, train.seed)
    train_loader = DataLoader(train_set, batch_size=train.batch_size, shuffle=sampler is None, sampler=sampler,
                              num_workers=train.workers, drop_last=True, pin_memory=pin, generator=generator)
    val_loader = None
    if val_set is not None and len(val_set):
        val_sampler = distributed.ShardSampler(len(val_set), context) if context.distributed else None
        val_loader = DataLoader(val_set, batch_size=train.batch_size, sampler=val_sampler,
                                num_workers=train.workers, pin_memory=pin)
    return train_loader, val_loader


class _MetricsLog:
    """metrics.csv, rewritten from the whole history each epoch (a resumed run has no duplicate
    rows), and TensorBoard scalars (events past the resumed epoch are purged)."""

    def __init__(self, out: Path, start_epoch: int):
        from torch.utils.tensorboard import SummaryWriter

        self.out = out
        self.writer = SummaryWriter(str(out / "tb"), purge_step=start_epoch + 1 if start_epoch else None)

    def write(self, history: list[dict[str, float]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=METRICS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        write_text_atomic(self.out / METRICS_FILE, buffer.getvalue())
        row = history[-1]
        for key, value in row.items():
            if key != "epoch" and value is not None:
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_metrics(run: Path) -> list[dict[str, float | None]]:
    """The rows of a run's metrics.csv, numbers as floats (empty cells as None)."""
    with open(Path(run) / METRICS_FILE, newline="") as handle:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(handle)]
