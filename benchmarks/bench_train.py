"""Training throughput of the ``cpu-small`` preset with formula images rendered on the fly versus
the same images pre-rendered to PNG and read from disk: same model, same transforms, same loader
workers, in the same run.

    python benchmarks/bench_train.py              # cpu-small: 100 categories x 20 instances, 3 rounds
    python benchmarks/bench_train.py --quick      # a smoke run (few images, 1 round)

Measured, in this order (the machine may be shared, so the two sources alternate round by round
and medians are reported):
- render: ``formula.image`` alone in this process, images per CPU second (one core) and per wall
  second; with W loader workers the on-the-fly capacity is about W times the per-core rate;
- loader only: images/s each source delivers through the preset's DataLoader (workers, transforms,
  batching), with no model;
- training: images/s of ``train_one_epoch`` (the preset's model, optimiser and batch) on each source;
  one untimed warm-up epoch per source first;
- needed: the training rate on the fly is the rate the renderer must sustain, i.e. batch size /
  step time per step; compared with the render capacity achieved.

No GPU is measured here. Prints a table; writes ``benchmarks/results/train.json`` (``train-quick.json``
with --quick).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

import fdsl
from fdsl.atomic import write_text_atomic
from fdsl.data.datasets import formula_datasets, load_categories
from fdsl.data.writer import render_dataset
from fdsl.registry import get_formula
from fdsl.tasks.classification.augment import build_transforms, mixup_and_loss
from fdsl.train.engine import train_one_epoch
from fdsl.tasks.classification.models import create_model
from fdsl.train.trainer import count_parameters
from fdsl.tasks.classification.presets import PRETRAIN_PRESETS

HERE = Path(__file__).resolve().parent


def render_rate(formula, categories: list, seed: int, count: int) -> dict[str, float]:
    """Images per CPU second and per wall second of ``formula.sample`` in this process."""
    pairs = [(k % len(categories), k // len(categories)) for k in range(count)]
    cpu, wall = time.process_time(), time.perf_counter()
    for category, instance in pairs:
        formula.sample(categories[category], seed, category, instance)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"images_per_cpu_s": count / cpu, "images_per_s": count / wall}


def loader_rate(loader: DataLoader) -> float:
    start, images = time.perf_counter(), 0
    for inputs, _ in loader:
        images += len(inputs)
    return images / (time.perf_counter() - start)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--categories", type=int, default=100)
    p.add_argument("--instances", type=int, default=20, help="instances per category (images/epoch = C x I)")
    p.add_argument("--rounds", type=int, default=3, help="timed epochs per source, alternating")
    p.add_argument("--quick", action="store_true", help="a smoke run: 10 x 26 images, 1 round")
    p.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/train[-quick].json)")
    args = p.parse_args(argv)
    if args.quick:
        args.categories, args.instances, args.rounds = 10, 26, 1
    args.out = args.out or HERE / "results" / ("train-quick.json" if args.quick else "train.json")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    config = PRETRAIN_PRESETS["cpu-small"]()
    data = dataclasses.replace(config.data, categories=args.categories, instances=args.instances, val_instances=0)
    formula = get_formula(data.family, **data.formula)
    categories = load_categories(formula, data)
    load_start = os.getloadavg()[0]
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    rates = render_rate(formula, categories, data.seed, min(2000, args.categories * args.instances))
    timings = measure_training(config, data, formula, categories, args.rounds)
    results = summarize(config, data, args, rates, timings, load_start)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return results


def measure_training(config, data, formula, categories, rounds: int) -> dict[str, Any]:
    """Training and loader-only rates, on the fly and from a pre-rendered folder, alternating rounds."""
    train, augment = config.train, config.augment
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        render_dataset(formula, categories, Path(folder), seed=data.seed, instances=data.instances,
                       workers=max(1, train.workers), progress=False)
        prerender_s = time.perf_counter() - start
        transform, _ = build_transforms(augment)
        sources = {
            "on the fly": formula_datasets(data, train_transform=transform)[0],
            "from disk": formula_datasets(dataclasses.replace(data, data_dir=folder), train_transform=transform)[0],
        }
        loaders = {name: DataLoader(ds, batch_size=train.batch_size, shuffle=True, num_workers=train.workers,
                                    drop_last=True) for name, ds in sources.items()}
        torch.manual_seed(0)
        model = create_model(config.model, num_classes=data.categories)
        from timm.optim import create_optimizer_v2

        optimizer = create_optimizer_v2(model, opt=config.optim.opt, lr=config.optim.lr,
                                        weight_decay=config.optim.weight_decay)
        _, loss_fn = mixup_and_loss(augment, data.categories)

        def train_rate(loader: DataLoader) -> float:
            stats = train_one_epoch(model, loader, optimizer, loss_fn=loss_fn, device=torch.device("cpu"), epoch=0,
                                    clip_grad=config.optim.clip_grad, log_interval=10**9)
            return stats["images_per_s"]

        loader_only = {name: [] for name in loaders}
        training = {name: [] for name in loaders}
        for name, loader in loaders.items():
            train_rate(loader)  # warm-up: first-call costs of kernels, allocator, workers
        for _ in range(rounds):
            for name, loader in loaders.items():
                loader_only[name].append(loader_rate(loader))
                training[name].append(train_rate(loader))
    return {"prerender_s": prerender_s, "training": training, "loader_only": loader_only,
            "parameters": count_parameters(model)}


def summarize(config, data, args, rates: dict[str, float], timings: dict[str, Any], load_start: float
              ) -> dict[str, Any]:
    """The JSON record: rates, what training needs from the renderer, and the machine."""
    train, training = config.train, timings["training"]
    median = {name: statistics.median(v) for name, v in training.items()}
    needed = median["on the fly"]
    capacity = rates["images_per_cpu_s"] * max(1, train.workers)
    return {
        "fdsl_version": fdsl.__version__,
        "preset": "cpu-small",
        "model": config.model.name, "model_kwargs": config.model.kwargs,
        "parameters": timings["parameters"],
        "family": data.family, "formula": data.formula,
        "images_per_epoch": args.categories * args.instances,
        "batch_size": train.batch_size, "loader_workers": train.workers, "torch_threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "train_images_per_s": {name: {"median": median[name], "runs": training[name]} for name in training},
        "loader_images_per_s": {name: {"median": statistics.median(v), "runs": v}
                                for name, v in timings["loader_only"].items()},
        "on_the_fly_vs_disk": median["on the fly"] / median["from disk"],
        "render_images_per_cpu_s": rates["images_per_cpu_s"],
        "render_images_per_s": rates["images_per_s"],
        "render_needed_images_per_s": needed,
        "render_needed_per_step": {"images": train.batch_size, "step_s": train.batch_size / needed},
        "render_capacity_images_per_s": capacity,
        "render_headroom": capacity / needed,
        "prerender_s": timings["prerender_s"],
        "gpu": "not measured (no GPU lent to this task)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]}},
    }


def print_table(r: dict[str, Any]) -> None:
    print(f"cpu-small: {r['model']} ({r['parameters'] / 1e6:.2f}M parameters), batch {r['batch_size']}, "
          f"{r['loader_workers']} loader workers, {r['torch_threads']} torch threads, {r['images_per_epoch']} "
          f"images/epoch, {r['rounds']} rounds (load average {r['machine']['load_average_1min']['start']:.1f})")
    print(f"{'data':<12} {'train img/s':>12} {'loader-only img/s':>18}")
    for name, train in r["train_images_per_s"].items():
        print(f"{name:<12} {train['median']:>12.0f} {r['loader_images_per_s'][name]['median']:>18.0f}")
    print(f"on the fly / from disk (training): {r['on_the_fly_vs_disk']:.3f}")
    print(f"render: {r['render_images_per_cpu_s']:.0f} img/s per core; needed {r['render_needed_images_per_s']:.0f} "
          f"img/s ({r['render_needed_per_step']['images']} images every {r['render_needed_per_step']['step_s']:.3f} s "
          f"step); capacity with {r['loader_workers']} workers {r['render_capacity_images_per_s']:.0f} img/s "
          f"({r['render_headroom']:.1f}x headroom); pre-rendering the same images took {r['prerender_s']:.1f} s")
    print(f"GPU: {r['gpu']}")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
