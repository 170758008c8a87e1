"""Everything torch.distributed in one place: the same command runs alone or under torchrun.

One machine, 8 GPUs (or 2 CPU processes with gloo)::

    torchrun --nproc_per_node 8 -m fdsl pretrain --preset fractaldb-deit-tiny -o runs/deit
    python -m torch.distributed.run --standalone --nproc_per_node 2 -m fdsl pretrain --preset cpu-small -o runs/ddp

Two machines (run on each, node_rank 0 and 1)::

    torchrun --nnodes 2 --node_rank 0 --master_addr HOST0 --master_port 29500 --nproc_per_node 8 \\
        -m fdsl pretrain --preset fractaldb-resnet50 --batch-size 32 -o runs/r50

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; each rank trains on its share of every epoch
(DistributedSampler), renders that share itself on the fly, and only rank 0 logs and writes files.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import sys
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, Sampler

from fdsl.errors import FdslError
from fdsl.train.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_primary(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: this rank's GPU when CUDA is present, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FdslError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    return device


def setup(device: str = "auto", timeout_s: float = TrainConfig.timeout_s) -> Context:
    """Join torchrun's process group when WORLD_SIZE > 1 (idempotent) and gate logging by rank.

    A collective that waits more than ``timeout_s`` for another rank raises instead of waiting
    forever (gloo honours the group's timeout, tests/test_hangs.py; NCCL through its watchdog)."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    torch_device = resolve_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if torch_device.type == "cuda":
            torch.cuda.set_device(torch_device)
        dist.init_process_group("nccl" if torch_device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(seconds=timeout_s))
    context = Context(rank, world_size, local_rank, torch_device)
    logging.getLogger("fdsl").setLevel(logging.INFO if context.is_primary else logging.WARNING)
    return context


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def is_primary() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over all ranks (a new tensor; the input alone without a process group)."""
    tensor = tensor.detach().clone()
    if dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(value: Any) -> list[Any]:
    """``value`` of every rank, in rank order (``[value]`` in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


@contextlib.contextmanager
def primary_first():
    """Rank 0 runs the block first (e.g. a download), then the other ranks (which find it done)."""
    if not is_primary():
        barrier()
    yield
    if is_primary():
        barrier()


def train_sampler(dataset: Dataset, context: Context, seed: int) -> Sampler | None:
    """A DistributedSampler under torchrun (call ``set_epoch`` each epoch); None alone, or for a
    dataset that holds this rank's share already (``rank_local``: WebDataset shards split by tar)."""
    if not context.distributed or is_rank_local(dataset):
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True,
                              seed=seed, drop_last=True)


def is_rank_local(dataset: Dataset) -> bool:
    return bool(getattr(dataset, "rank_local", False))


def training_share(dataset: Dataset, context: Context) -> int:
    """How many training items this rank sees per epoch."""
    return len(dataset) if is_rank_local(dataset) else len(dataset) // context.world_size


class ShardSampler(Sampler[int]):
    """Rank r evaluates items r, r + W, r + 2W, ...: every item once over all ranks, none padded
    (DistributedSampler repeats items to even out the shards, which would bias the accuracy)."""

    def __init__(self, size: int, context: Context):
        self.indices = range(context.rank, size, context.world_size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest and notebooks replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging() -> None:
    """Log fdsl's messages to stderr, one line each (levels are set per rank by :func:`setup`)."""
    logger = logging.getLogger("fdsl")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if is_primary() else logging.WARNING)
