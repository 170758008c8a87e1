"""Seconds per epoch of the cpu-small pre-training loader alone (no training), workers as before
issue 15 (forked afresh every epoch) and now (forkserver, persistent, reseeded per epoch).

    python benchmarks/bench_loader_epochs.py --epochs 5 --categories 20
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from fdsl.data.datasets import formula_datasets
from fdsl.train import distributed
from fdsl.tasks.classification.augment import build_transforms
from fdsl.configs import resolve
from fdsl.train.loaders import TrainLoader
from fdsl.tasks.classification.presets import PRETRAIN_PRESETS


def epoch_times(loader, start_epoch, epochs: int) -> list[float]:
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        start_epoch(epoch)
        for _ in loader:
            pass
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--categories", type=int, default=100)
    args = parser.parse_args()
    config = resolve(PRETRAIN_PRESETS["cpu-small"](), {"data": {"categories": args.categories}})
    train_transform, _ = build_transforms(config.augment)
    train_set, _, _ = formula_datasets(config.data, train_transform=train_transform)
    context = distributed.Context(0, 1, 0, torch.device("cpu"))
    batch, workers = config.train.batch_size, config.train.workers
    generator = torch.Generator()
    before = DataLoader(train_set, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                        generator=generator, multiprocessing_context="fork")
    old = epoch_times(before, lambda epoch: generator.manual_seed(epoch), args.epochs)
    after = TrainLoader(train_set, batch_size=batch, workers=workers, context=context, seed=0, timeout_s=300)
    new = epoch_times(after, lambda epoch: after.start_epoch(epoch, epoch), args.epochs)
    print(f"{len(train_set)} images/epoch, batch {batch}, {workers} worker(s)")
    print("fork, every epoch:      " + " ".join(f"{t:.2f}" for t in old) + " s")
    print("forkserver, persistent: " + " ".join(f"{t:.2f}" for t in new) + " s")


if __name__ == "__main__":
    main()
