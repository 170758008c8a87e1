"""Loader workers: persistent, from a clean start method, and seeded per epoch exactly as the
workers that a DataLoader used to start afresh each epoch (so results did not change)."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fdsl.train import distributed
from fdsl.train.loaders import TrainLoader, worker_start_method


class RandomDraws(Dataset):
    """Each item: its index and one draw from each global generator a transform may use."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index):
        return torch.tensor([float(index), random.random(), torch.rand(()).item(), float(np.random.rand())],
                            dtype=torch.float64)


def epochs_of_fresh_workers(workers: int, seeds: list[int]) -> list[torch.Tensor]:
    """What the trainer did before: one generator reseeded per epoch, new workers every epoch."""
    generator = torch.Generator()
    loader = DataLoader(RandomDraws(), batch_size=3, shuffle=True, drop_last=True, num_workers=workers,
                        generator=generator, multiprocessing_context="spawn")
    draws = []
    for seed in seeds:
        generator.manual_seed(seed)
        draws.append(torch.cat(list(loader)))
    return draws


@pytest.mark.parametrize("workers", [1, 2])
def test_persistent_workers_draw_what_fresh_workers_drew_each_epoch(workers):
    seeds = [11, 12, 11]  # epoch 3 repeats epoch 1's seed: the same draws, whatever came between
    context = distributed.Context(0, 1, 0, torch.device("cpu"))
    loader = TrainLoader(RandomDraws(), batch_size=3, workers=workers, context=context, seed=0, timeout_s=60)
    assert loader.loader.persistent_workers and loader.loader.multiprocessing_context is not None
    draws = []
    for epoch, seed in enumerate(seeds):
        loader.start_epoch(epoch, seed)
        draws.append(torch.cat(list(loader)))
    expected = epochs_of_fresh_workers(workers, seeds)
    for ours, theirs in zip(draws, expected):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])


def test_workers_never_fork_the_training_process():
    assert worker_start_method() in ("forkserver", "spawn")
