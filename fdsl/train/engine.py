"""One training epoch and one evaluation pass, on any device, alone or under torchrun.

``train_one_epoch`` returns averaged meters and stops on a non-finite loss with a message that
says what to change; ``evaluate`` returns top-1/top-5 accuracy and loss summed over all ranks.
Mixed precision uses ``torch.autocast(device_type=...)`` only where it applies (CUDA).
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
    loss_fn: Callable,
    device: torch.device,
    epoch: int,
    precision: Precision | None = None,
    mixup: Callable | None = None,
    clip_grad: float | None = None,
    scheduler=None,
    num_updates: int = 0,
    log_interval: int = 50,
) -> dict[str, float]:
    """One pass over ``loader``; returns loss (mean over ranks), lr, images (all ranks) and images/s."""
    precision = precision or Precision()
    model.train()
    steps = len(loader)
    loss_sum = torch.zeros((), dtype=torch.float64)
    images = 0
    start = time.perf_counter()
    for step, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        if mixup is not None:
            inputs, targets = mixup(inputs, targets)
        with precision.autocast(device):
            loss = loss_fn(model(inputs), targets)
        # Every rank checks the sum over ranks, so that all of them stop together (none waits
        # forever in the next all-reduce).
        global_loss = reduce_sum(loss.detach().float())
        if not math.isfinite(global_loss.item()):
            raise NonFiniteLoss(
                f"loss is {global_loss.item()} at epoch {epoch + 1}, step {step + 1}/{steps} "
                f"(lr {optimizer.param_groups[0]['lr']:.3g}); lower optim.lr, set optim.clip_grad, or check the data"
            )
        optimizer_step(model, loss, optimizer, precision, clip_grad)
        num_updates += 1
        if scheduler is not None:
            scheduler.step_update(num_updates=num_updates)
        loss_sum += global_loss.double()
        images += len(inputs)
        if (step + 1) % log_interval == 0:
            log.info("epoch %d [%d/%d] loss %.4f lr %.3g", epoch + 1, step + 1, steps, loss.item(),
                     optimizer.param_groups[0]["lr"])
    elapsed = time.perf_counter() - start
    world = _world_size()
    total_images = int(reduce_sum(torch.tensor(images)).item())
    return {
        "loss": loss_sum.item() / max(steps, 1) / world,
        "lr": optimizer.param_groups[0]["lr"],
        "images": total_images,
        "time_s": elapsed,
        "images_per_s": total_images / elapsed if elapsed > 0 else 0.0,
    }


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


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None
             ) -> dict[str, float]:
    """Loss, top-1 and top-5 accuracy (%) over every image of ``loader`` on all ranks together."""
    precision = precision or Precision()
    model.eval()
    # loss sum, top-1 hits, top-5 hits, images: summed on this rank, then over ranks.
    sums = torch.zeros(4, dtype=torch.float64)
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(inputs)
        loss = nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices  # (batch, k)
        hits = top.eq(targets[:, None])
        sums += torch.tensor([loss.item(), hits[:, 0].sum().item(), hits.any(dim=1).sum().item(), len(targets)],
                             dtype=torch.float64)
    loss_sum, top1, top5, count = reduce_sum(sums).tolist()
    count = max(count, 1.0)
    return {"loss": loss_sum / count, "top1": 100.0 * top1 / count, "top5": 100.0 * top5 / count,
            "images": int(count)}
