"""One training epoch, on any device, alone or under torchrun, for any task: a task's step turns a
batch into a loss (:class:`SupervisedStep` for ``(inputs, targets)`` batches).

``train_one_epoch`` returns averaged meters and stops on a non-finite loss with a message that
says what to change. Mixed precision uses ``torch.autocast(device_type=...)`` only where it
applies (CUDA).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

from fdsl.errors import FdslError
from fdsl.tasks import Step
from fdsl.train.distributed import reduce_sum

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Precision:
    """Autocast dtype (None: full precision) and, for float16, a gradient scaler."""

    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def choose(cls, device: torch.device, amp: bool) -> "Precision":
        # CPU autocast (bfloat16) is slower than float32 on most CPUs, and MPS support varies.
        if not amp or device.type != "cuda":
            return cls()
        if torch.cuda.is_bf16_supported():
            return cls(torch.bfloat16)
        return cls(torch.float16, torch.amp.GradScaler("cuda"))

    def autocast(self, device: torch.device):
        return torch.autocast(device_type=device.type, dtype=self.dtype, enabled=self.dtype is not None)


class NonFiniteLoss(FdslError):
    """The loss became NaN or infinite: training stops (the last checkpoint is kept)."""


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    step: Callable,
    device: torch.device,
    epoch: int,
    precision: Precision | None = None,
    clip_grad: float | None = None,
    scheduler=None,
    num_updates: int = 0,
    log_interval: int = 50,
    terms: tuple[str, ...] = (),
) -> dict[str, float]:
    """One pass over ``loader``: ``step(model, batch, device, precision)`` gives each batch's loss and
    sample count (a :class:`fdsl.tasks.Step`); returns the loss (mean over steps and ranks), the mean of
    each of ``terms`` (the loss's named parts), lr, samples (all ranks) and samples/s."""
    precision = precision or Precision()
    model.train()
    steps = len(loader)
    loss_sum = torch.zeros((), dtype=torch.float64)
    term_sums = torch.zeros(len(terms), dtype=torch.float64)
    samples = 0
    start = time.perf_counter()
    for index, batch in enumerate(loader):
        result = step(model, batch, device, precision)
        loss = result.loss
        # Every rank checks the sum over ranks, so that all of them stop together (none waits
        # forever in the next all-reduce).
        global_loss = reduce_sum(loss.detach().float())
        if not math.isfinite(global_loss.item()):
            raise NonFiniteLoss(
                f"loss is {global_loss.item()} at epoch {epoch + 1}, step {index + 1}/{steps} "
                f"(lr {optimizer.param_groups[0]['lr']:.3g}); lower optim.lr, set optim.clip_grad, or check the data"
            )
        optimizer_step(model, loss, optimizer, precision, clip_grad)
        num_updates += 1
        if scheduler is not None:
            scheduler.step_update(num_updates=num_updates)
        loss_sum += global_loss.double()
        if terms:
            term_sums += reduce_sum(torch.tensor([float(result.terms[t]) for t in terms], dtype=torch.float64))
        samples += result.count
        if (index + 1) % log_interval == 0:
            log.info("epoch %d [%d/%d] loss %.4f lr %.3g", epoch + 1, index + 1, steps, loss.item(),
                     optimizer.param_groups[0]["lr"])
    elapsed = time.perf_counter() - start
    world = _world_size()
    total = int(reduce_sum(torch.tensor(samples)).item())
    return {
        "loss": loss_sum.item() / max(steps, 1) / world,
        **{t: value / max(steps, 1) / world for t, value in zip(terms, term_sums.tolist())},
        "lr": optimizer.param_groups[0]["lr"],
        "images": total,
        "time_s": elapsed,
        "images_per_s": total / elapsed if elapsed > 0 else 0.0,
    }


@dataclasses.dataclass
class SupervisedStep:
    """The step of tasks whose batches are ``(inputs, targets)`` tensors and whose loss compares the
    model's output with the targets: both moved to the device, an optional batch transform there
    (Mixup/CutMix), then ``loss_fn(model(inputs), targets)`` under the run's precision."""

    loss_fn: Callable
    batch_transform: Callable | None = None

    def __call__(self, model: nn.Module, batch, device: torch.device, precision: Precision) -> Step:
        inputs, targets = batch
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        if self.batch_transform is not None:
            inputs, targets = self.batch_transform(inputs, targets)
        with precision.autocast(device):
            loss = self.loss_fn(model(inputs), targets)
        return Step(loss, len(inputs))


def optimizer_step(model: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer, precision: Precision,
                   clip_grad: float | None) -> None:
    """Backward and one optimiser step, through the gradient scaler under float16."""
    optimizer.zero_grad(set_to_none=True)
    if precision.scaler is not None:
        precision.scaler.scale(loss).backward()
        precision.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        _clip(model, clip_grad)
        precision.scaler.step(optimizer)
        precision.scaler.update()
    else:
        loss.backward()
        _clip(model, clip_grad)
        optimizer.step()


def _clip(model: nn.Module, clip_grad: float | None) -> None:
    if clip_grad is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad)


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_initialized() else 1
