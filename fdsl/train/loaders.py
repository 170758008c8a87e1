"""The training and validation DataLoaders: worker processes that never come from a fork of the
training process, started once per run, and seeded per epoch exactly as fresh workers would be.

Why not fork: a training process runs threads (gloo's or NCCL's, TensorBoard's writer), and a
child forked while one of them holds a lock can wait for that lock forever (issue 15: a worker
forked at epoch 21 of the demo hung inside ``os.fork`` itself). Workers therefore come from a
forkserver (a clean single-threaded process started by fork + exec; Linux) or are spawned
(elsewhere), and are persistent, so the import of torch they pay happens once per run, not every
epoch.

Why the epoch seed travels with each index: a persistent worker is seeded once, when it starts,
but the augmentation of epoch ``e`` must not depend on the epochs before it (resume gives the same
weights as an uninterrupted run). Each index is sent as ``(index, epoch, base_seed)`` and the
worker reseeds Python's, torch's and NumPy's global generators at its first item of a new epoch
with the values a DataLoader gives a freshly started worker (``base_seed + worker_id``; NumPy from
torch's ``_generate_state``), so every epoch draws what it drew when workers restarted each epoch.
"""
from __future__ import annotations

import functools
import multiprocessing
import os
import random
import sys
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, get_worker_info

from fdsl.data.processes import exit_when_gone
from fdsl.errors import check
from fdsl.train import distributed


#: Imported once by the forkserver (a single-threaded process), so that each worker forked from it
#: starts with torch, timm's transforms and the datasets loaded instead of importing them itself.
FORKSERVER_PRELOAD = ["__main__", "torch", "timm.data", "fdsl.data.datasets", "fdsl.train.loaders"]


def worker_start_method() -> str:
    """How loader workers start: "forkserver" on Linux, "spawn" elsewhere (macOS and Windows
    default to it already); never "fork" (see the module docstring)."""
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        # No effect once this process's forkserver runs (it keeps what it preloaded).
        multiprocessing.get_context("forkserver").set_forkserver_preload(FORKSERVER_PRELOAD)
        return "forkserver"
    return "spawn"


def draw_base_seed(generator: torch.Generator) -> int:
    """The draw a DataLoader makes from its generator when it starts workers (the same call, so the
    shuffling drawn next from ``generator`` is the same as it was with a worker restart each epoch)."""
    return int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())


def seed_this_worker(base_seed: int) -> None:
    """Seed the global generators of this loader worker as a DataLoader seeds a new one."""
    # torch's own NumPy seeding of workers (private, pinned by tests/test_loaders.py): the same
    # NumPy stream as before workers became persistent.
    from torch.utils.data._utils.worker import _generate_state

    worker_id = get_worker_info().id
    random.seed(base_seed + worker_id)
    torch.manual_seed(base_seed + worker_id)
    np.random.seed(_generate_state(base_seed, worker_id))


class EpochSampler(Sampler):
    """Yields ``(index, epoch, base_seed)`` for each index of ``sampler`` (see the module docstring)."""

    def __init__(self, sampler: Sampler):
        self.sampler = sampler
        self.epoch, self.base_seed = 0, 0

    def set_epoch(self, epoch: int, base_seed: int) -> None:
        self.epoch, self.base_seed = epoch, base_seed
        if hasattr(self.sampler, "set_epoch"):  # DistributedSampler
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        for index in self.sampler:
            yield index, self.epoch, self.base_seed

    def __len__(self) -> int:
        return len(self.sampler)


class EpochSeededDataset(Dataset):
    """``dataset`` indexed by ``(index, epoch, base_seed)``: a worker reseeds at a new epoch."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.seeded_epoch: int | None = None
        self.data_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        index, epoch, base_seed = key
        if epoch != self.data_epoch and hasattr(self.dataset, "set_epoch"):
            # Data that changes per epoch (data.instances_per_epoch): told here, in the process that
            # reads it, since a persistent worker never sees the main process's dataset again.
            self.dataset.set_epoch(epoch)
            self.data_epoch = epoch
        if epoch != self.seeded_epoch and get_worker_info() is not None:
            seed_this_worker(base_seed)
            self.seeded_epoch = epoch
        return self.dataset[index]


def exit_with_owner(owner_pid: int, worker_id: int) -> None:
    """Worker init: exit when the training process ``owner_pid`` is gone. A DataLoader worker
    watches its parent, which for a forkserver worker is the forkserver, not the training process:
    without this, a rank killed outright (SIGKILL, the OOM killer) would leave its workers and
    forkserver behind for ever."""
    exit_when_gone(owner_pid)


class TrainLoader:
    """The training DataLoader and its per-epoch seeding: call :meth:`start_epoch` before iterating."""

    def __init__(self, dataset: Dataset, *, batch_size: int, workers: int, context: distributed.Context,
                 seed: int, timeout_s: float, collate: Callable | None = None):
        self.shuffle = torch.Generator()  # reseeded each epoch; shuffles (alone) and seeds workers
        base = distributed.train_sampler(dataset, context, seed) or RandomSampler(dataset, generator=self.shuffle)
        self.sampler = EpochSampler(base)
        # The loader's own generator would seed new workers; with the seed carried per item it
        # only has to be one that nothing else draws from.
        self.loader = DataLoader(EpochSeededDataset(dataset), batch_size=batch_size, sampler=self.sampler,
                                 drop_last=True, generator=torch.Generator(), collate_fn=collate,
                                 **worker_options(workers, context, timeout_s))
        self.batches = self.loader

    def start_epoch(self, epoch: int, seed: int) -> None:
        self.shuffle.manual_seed(seed)
        self.sampler.set_epoch(epoch, draw_base_seed(self.shuffle))

    def finish_batches_with(self, stage: Callable | None) -> None:
        """Iterate through ``stage(loader)`` (e.g. timm's PrefetchLoader) instead of the bare loader."""
        self.batches = stage(self.loader) if stage is not None else self.loader

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.loader)


def worker_options(workers: int, context: distributed.Context, timeout_s: float) -> dict:
    """DataLoader keywords for ``workers`` processes: a clean start, once per run, a batch timeout."""
    options = {"num_workers": workers, "pin_memory": context.device.type == "cuda"}
    if workers > 0:
        options.update(multiprocessing_context=worker_start_method(), persistent_workers=True, timeout=timeout_s,
                       worker_init_fn=functools.partial(exit_with_owner, os.getpid()))
    return options


def build_loaders(train_set: Dataset, val_set: Dataset | None, config, context: distributed.Context, *,
                  collate: Callable | None = None) -> tuple[TrainLoader, DataLoader | None]:
    """(training loader, validation loader or None) for ``config.train``, batches made by ``collate``
    (None: torch's default)."""
    train = config.train
    share = distributed.training_share(train_set, context)
    check(train.batch_size <= share,
          f"batch size {train.batch_size} is larger than the {share} training images"
          f"{' per process' if context.distributed else ''}; lower --batch-size")
    train_loader = TrainLoader(train_set, batch_size=train.batch_size, workers=train.workers, context=context,
                               seed=train.seed, timeout_s=train.timeout_s, collate=collate)
    val_loader = None
    if val_set is not None and len(val_set):
        val_loader = evaluation_loader(val_set, batch_size=train.batch_size, workers=train.workers, context=context,
                                       timeout_s=train.timeout_s, collate=collate)
    return train_loader, val_loader


def evaluation_loader(dataset: Dataset, *, batch_size: int, workers: int, context: distributed.Context,
                      timeout_s: float, collate: Callable | None = None) -> DataLoader:
    """A loader over every item of ``dataset`` in order; under torchrun each rank takes its share
    (the scores are then summed over ranks)."""
    sampler = distributed.ShardSampler(len(dataset), context) if context.distributed else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate,
                      **worker_options(workers, context, timeout_s))
