"""The epoch loop that every task and phase shares (:func:`fdsl.train.run.run` calls it): loaders, optimiser and schedule (timm),
resume, metrics (CSV and TensorBoard) and checkpoints, alone or under torchrun.

Resuming gives the same weights as an uninterrupted run: every source of randomness is reseeded
from (seed, epoch, rank) at the start of each epoch (the loader's shuffling and worker seeds, and
the global torch / NumPy / Python generators that timm's Mixup, RandomErasing and drop-path draw
from), and the model, optimiser, scaler and history are restored from the last finished epoch.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fdsl.atomic import write_text_atomic
from fdsl.errors import FdslError
from fdsl.provenance import TRAINING_PACKAGES, provenance
from fdsl.seeding import derive_rng
from fdsl.train import checkpoint, distributed
from fdsl.train.engine import Precision, train_one_epoch
from fdsl.train.loaders import build_loaders
from fdsl.tasks import Data, Task
from fdsl.train.run_folder import RunFolder

log = logging.getLogger(__name__)

TRAIN_STREAM, INIT_STREAM = "train", "init"
METRICS_FILE = checkpoint.METRICS_FILE


def metric_columns(task: Task) -> tuple[str, ...]:
    """The columns of metrics.csv: the task's loss terms after train_loss, its validation scores between
    val_loss and lr, the primary one first (so a metrics.csv says by itself which score picks best/)."""
    return ("epoch", "train_loss", *(f"train_{t}" for t in task.loss_terms), "val_loss",
            *(f"val_{m}" for m in task.metrics), "lr", "images_per_s", "epoch_s")


def primary_column(columns: list[str]) -> str:
    """The score that picks best/ in a metrics.csv with these columns (see :func:`metric_columns`)."""
    return columns[columns.index("val_loss") + 1]


@dataclasses.dataclass
class FitResult:
    out: Path
    history: list[dict[str, float]]
    #: The metrics.csv column of the score that picks best/ (``val_top1``, ``val_miou``...).
    primary: str

    @property
    def last(self) -> dict[str, float]:
        return self.history[-1]

    @property
    def best(self) -> dict[str, float] | None:
        scored = [row for row in self.history if row.get(self.primary) is not None]
        return max(scored, key=lambda row: row[self.primary]) if scored else None

    @classmethod
    def read(cls, out: Path) -> "FitResult":
        """The result of a run that another process trained, from its folder's metrics.csv."""
        history = read_metrics(out)
        with open(Path(out) / METRICS_FILE, newline="") as handle:
            columns = next(csv.reader(handle), [])
        return cls(Path(out), history, primary_column(columns))


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


def fit(task: Task, model: nn.Module, data: Data, *, config, out: Path, context: distributed.Context,
        state: dict[str, Any] | None, meta: dict[str, Any]) -> FitResult:
    """Train ``model`` for ``config.train.epochs`` epochs (from ``state`` when resuming) with ``task``'s
    step, scoring ``data.val`` with ``task.evaluate`` when due; rank 0 writes metrics, weights (last/,
    best/) and the state to ``out``."""
    train = config.train
    if train.threads is not None:
        torch.set_num_threads(train.threads)
    train_loader, val_loader = build_loaders(data.train, data.val, config, context, collate=task.collate)
    train_loader.finish_batches_with(task.loader_stage(config, context.device))
    tools = Tools.build(task, model, config, context, updates_per_epoch=len(train_loader), label_names=data.label_names)
    history = tools.restore(model, state)
    start_epoch = len(history)
    device = context.device
    meta = {**meta, "provenance": training_provenance(device)}
    network = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if context.distributed else model
    log.info("%s %s: %s (%.2fM parameters), %d classes, %d training samples/epoch%s, batch %d x %d process(es), "
             "lr %.3g, device %s%s", task.name, meta["phase"], model_name(config.model), count_parameters(model) / 1e6,
             len(data.label_names), len(data.train), f", {len(data.val)} validation" if data.val else "",
             train.batch_size, context.world_size, tools.lr, device.type,
             f"; resuming after epoch {start_epoch}" if start_epoch else "")
    folder = RunFolder(out, epochs_kept=start_epoch, primary=context.is_primary)
    metrics = _MetricsLog(out, start_epoch, metric_columns(task)) if context.is_primary else None
    result = FitResult(out, history, f"val_{task.primary}")
    with folder.kept_whole():
        for epoch in range(start_epoch, train.epochs):
            history.append(run_epoch(network, train_loader, val_loader, tools, config=config, context=context,
                                     epoch=epoch))
            if context.is_primary:
                with folder.saving(epoch + 1):
                    if epoch == start_epoch:
                        checkpoint.write_run_config(out, config, task=task.name, phase=meta["phase"])
                    save_epoch(model, tools, result, out=out, config=config, meta=meta)
                    metrics.write(history)
        if context.is_primary:
            with folder.saving(len(history)):
                metrics.close()
                write_text_atomic(out / checkpoint.SUMMARY_FILE, json.dumps(
                    {"task": task.name, "phase": meta["phase"], "epochs": len(history), "last": result.last,
                     "best": result.best}, indent=1))
    distributed.barrier()  # nobody reads the run folder before rank 0 has finished writing it
    return result


def model_name(model_config) -> str:
    return getattr(model_config, "name", type(model_config).__name__)


@dataclasses.dataclass
class Tools:
    """What a run trains with besides the model: the optimiser and schedule (timm), the precision,
    the task's training step, and the learning rate after scaling by the global batch."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    precision: Precision
    step: Any
    lr: float
    task: Task
    label_names: list[str]

    @classmethod
    def build(cls, task: Task, model: nn.Module, config, context: distributed.Context, *, updates_per_epoch: int,
              label_names: list[str]) -> "Tools":
        """Moves ``model`` to the run's device, then builds its optimiser over it."""
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        train, optim = config.train, config.optim
        global_batch = train.batch_size * context.world_size
        lr = optim.lr * global_batch / optim.lr_base_batch if optim.lr_base_batch else optim.lr
        model.to(context.device)
        optimizer = create_optimizer_v2(model, opt=optim.opt, lr=lr, weight_decay=optim.weight_decay,
                                        momentum=optim.momentum)
        scheduler, _ = create_scheduler_v2(
            optimizer, sched=optim.sched, num_epochs=train.epochs, decay_epochs=optim.decay_epochs,
            decay_milestones=list(optim.decay_milestones), decay_rate=optim.decay_rate, min_lr=optim.min_lr,
            warmup_lr=optim.warmup_lr, warmup_epochs=optim.warmup_epochs, step_on_epochs=False,
            updates_per_epoch=updates_per_epoch,
        )
        return cls(optimizer, scheduler, Precision.choose(context.device, train.amp),
                   task.train_step(config, label_names), lr, task, list(label_names))

    def restore(self, model: nn.Module, state: dict[str, Any] | None) -> list[dict[str, float]]:
        """Load a resumed run's model, optimiser and scaler; returns its history (empty when new)."""
        if state is None:
            return []
        model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.precision.scaler is not None and state.get("scaler"):
            self.precision.scaler.load_state_dict(state["scaler"])
        return list(state["history"])

    def state(self, model: nn.Module, history: list[dict[str, float]]) -> dict[str, Any]:
        """What ``state.pt`` holds for ``--resume``."""
        scaler = self.precision.scaler
        return {"model": model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else {}, "history": history}


def run_epoch(network: nn.Module, train_loader, val_loader, tools: Tools, *, config, context: distributed.Context,
              epoch: int) -> dict[str, float]:
    """Train one epoch (and score validation when due); returns the epoch's metrics row."""
    train, task = config.train, tools.task
    train_loader.start_epoch(epoch, seed_epoch(train.seed, epoch, context.rank))
    tools.scheduler.step_update(num_updates=epoch * len(train_loader))
    due = (epoch + 1) % train.eval_interval == 0 or epoch + 1 == train.epochs
    try:
        stats = train_one_epoch(network, train_loader, tools.optimizer, step=tools.step, device=context.device,
                                epoch=epoch, precision=tools.precision, clip_grad=config.optim.clip_grad,
                                scheduler=tools.scheduler, num_updates=epoch * len(train_loader),
                                log_interval=train.log_interval, terms=task.loss_terms)
        scores = task.evaluate(network, val_loader, device=context.device, precision=tools.precision,
                               label_names=tools.label_names) if val_loader and due else {}
    except RuntimeError as error:
        raise_if_stalled(error, context, train.timeout_s, epoch)
        raise
    shown = "".join(f" {m} {scores[m]:.2f}" for m in task.metrics) if scores else ""
    log.info("epoch %d/%d train loss %.4f%s | %.0f samples/s, %.1f s", epoch + 1, train.epochs, stats["loss"],
             f" | val loss {scores['loss']:.4f}{shown}" if scores else "", stats["images_per_s"], stats["time_s"])
    return {"epoch": epoch + 1, "train_loss": stats["loss"], **{f"train_{t}": stats[t] for t in task.loss_terms},
            "val_loss": scores.get("loss"), **{f"val_{m}": scores.get(m) for m in task.metrics}, "lr": stats["lr"],
            "images_per_s": stats["images_per_s"], "epoch_s": stats["time_s"]}


def save_epoch(model: nn.Module, tools: Tools, result: FitResult, *, out: Path, config, meta: dict[str, Any]) -> None:
    """Rank 0 after each epoch: last/ weights, best/ at a new best, and the state for ``--resume``."""
    row = result.last
    weights_meta = {**meta, "epoch": row["epoch"], "metrics": row}
    save = functools.partial(checkpoint.save_weights, tools.task, model, label_names=tools.label_names,
                             config=config, meta=weights_meta)
    save(out / "last")
    if result.best is row:  # the first epoch with the highest primary validation score
        save(out / "best")
    checkpoint.save_state(out / checkpoint.STATE_FILE, tools.state(model, result.history))


def training_provenance(device: torch.device) -> dict[str, Any]:
    """:func:`fdsl.provenance.provenance` for training: the training packages too, the CPU kernels
    torch runs and the accelerator."""
    record = provenance(TRAINING_PACKAGES)
    record["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    if device.type == "cuda":
        record["device"] = torch.cuda.get_device_name(device)
    return record


class Stalled(FdslError):
    """A rank waited too long for a batch or for the other ranks, or one of them died."""


def raise_if_stalled(error: RuntimeError, context: distributed.Context, timeout_s: float, epoch: int) -> None:
    """Turn a loader time-out or a failed collective into one line naming the rank and what it waited for."""
    text = str(error)
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if "DataLoader timed out" in text:
        what = f"waited {timeout_s:g} s for a batch from its loader workers (train.timeout_s)"
    elif "DataLoader worker" in text:
        what = f"lost a loader worker ({first_line})"
    elif isinstance(error, torch.distributed.DistError) or "gloo" in text or "NCCL" in text:
        what = f"waited for the other ranks in a collective and gave up ({first_line})"
    else:
        return
    raise Stalled(f"rank {context.rank} {what} in epoch {epoch + 1}; rerun with --resume to continue after "
                  f"epoch {epoch}") from None


class _MetricsLog:
    """metrics.csv, rewritten from the whole history each epoch (a resumed run has no duplicate
    rows), and TensorBoard scalars (events past the resumed epoch are purged). Both appear with the
    first saved epoch (:mod:`fdsl.train.run_folder`)."""

    def __init__(self, out: Path, start_epoch: int, columns: tuple[str, ...]):
        self.out = out
        self.columns = columns
        self.start_epoch = start_epoch
        self.writer = None

    def write(self, history: list[dict[str, float]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        write_text_atomic(self.out / METRICS_FILE, buffer.getvalue())
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / checkpoint.TENSORBOARD_DIR),
                                        purge_step=self.start_epoch + 1 if self.start_epoch else None)
        row = history[-1]
        for key, value in row.items():
            if key != "epoch" and value is not None:
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(run: Path) -> list[dict[str, float | None]]:
    """The rows of a run's metrics.csv, numbers as floats (empty cells as None)."""
    with open(Path(run) / METRICS_FILE, newline="") as handle:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(handle)]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
