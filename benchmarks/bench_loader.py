"""The on-the-fly input pipeline of the GPU presets, stage by stage, on one core.

    python benchmarks/bench_loader.py            # fractaldb-deit-tiny and fractaldb-resnet50, about 2 min
    python benchmarks/bench_loader.py --quick    # a smoke run (few images)

For each preset, in one process with one torch thread, CPU time (``time.process_time``, so the
rates hold on a loaded machine) of:
- render: ``FormulaDataset.item`` (FractalDB at the released 362 px, 200k points, patch grey);
- augment: the preset's per-image training transform (timm: RandomResizedCrop to 224, RandAugment,
  ToTensor, normalisation, random erasing), what each loader worker runs after rendering;
- batch: collating a batch and the preset's batch-level mixup/cutmix, timed here on the CPU. The
  training engine applies mixup after moving the batch to the device (``engine.train_one_epoch``),
  so on a GPU this stage is not a loader worker's.
Per-core rate = images per CPU second of render + augment (+ collate); cores to feed one GPU =
training rate / per-core rate. The GPU rates are assumptions, not measurements (no GPU was lent):
about 2,500-3,000 img/s for DeiT-Tiny and 1,200-1,500 img/s for ResNet-50 on one H100 in bf16.

Prints a table; writes ``benchmarks/results/loader.json`` (``loader-quick.json`` with --quick).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from fdsl.atomic import write_text_atomic
from fdsl.data.config import FormulaDataConfig
from fdsl.data.datasets import formula_datasets
from fdsl.train.augment import build_transforms, mixup_and_loss
from fdsl.train.presets import pretrain_preset

RESULTS = Path(__file__).parent / "results"
#: Assumed training rates (images/s) on one H100 in bf16: (low, high). Not measured here.
GPU_RATES = {"fractaldb-deit-tiny": (2500, 3000), "fractaldb-resnet50": (1200, 1500)}


def cpu_seconds(action, count: int) -> float:
    start = time.process_time()
    for index in range(count):
        action(index)
    return time.process_time() - start


def bench_preset(name: str, images: int, categories: int, batch_rounds: int) -> dict:
    config = pretrain_preset(name)
    data = FormulaDataConfig(**{**config.data.__dict__, "categories": categories, "val_instances": 0})
    train_set, _, _ = formula_datasets(data)
    transform, _ = build_transforms(config.augment)
    per_category = max(1, images // categories)
    indices = [c * data.instances + i for c in range(categories) for i in range(per_category)][:images]
    rendered = []
    render_s = cpu_seconds(lambda k: rendered.append(train_set.item(indices[k])), len(indices))
    tensors = []
    augment_s = cpu_seconds(lambda k: tensors.append(transform(rendered[k])), len(rendered))
    batch = config.train.batch_size
    labels = torch.arange(batch) % 1000
    stack = [tensors[k % len(tensors)] for k in range(batch)]
    collate_s = cpu_seconds(lambda _: torch.stack(stack), batch_rounds) / (batch_rounds * batch)
    mixup, _ = mixup_and_loss(config.augment, 1000)
    inputs = torch.stack(stack)
    mixup_s = (cpu_seconds(lambda _: mixup(inputs.clone(), labels), batch_rounds) / (batch_rounds * batch)
               if mixup else 0.0)
    per_image = {"render": render_s / len(indices), "augment": augment_s / len(indices), "collate": collate_s,
                 "mixup_cutmix": mixup_s}
    return summarise(name, config, per_image, len(indices))


def summarise(name: str, config, per_image: dict[str, float], images: int) -> dict:
    worker = per_image["render"] + per_image["augment"] + per_image["collate"]
    total = worker + per_image["mixup_cutmix"]
    rate = 1.0 / worker
    low, high = GPU_RATES[name]
    return {
        "preset": name, "images": images, "batch_size": config.train.batch_size,
        "ms_per_image": {k: round(v * 1e3, 3) for k, v in per_image.items()},
        "share": {k: round(v / total, 3) for k, v in per_image.items()},
        "img_per_s_per_core": round(rate, 1),
        "img_per_s_per_core_with_cpu_mixup": round(1.0 / total, 1),
        "assumed_gpu_img_per_s": [low, high],
        "cores_to_feed_one_gpu": [round(low / rate, 1), round(high / rate, 1)],
    }


def table(results: list[dict]) -> str:
    lines = ["| preset | render ms | augment ms | collate ms | mixup/cutmix ms (CPU) | render : augment : batch "
             "| img/s/core | cores for one GPU (assumed rate) |", "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in results:
        ms, share = r["ms_per_image"], r["share"]
        batch_share = share["collate"] + share["mixup_cutmix"]
        low, high = r["assumed_gpu_img_per_s"]
        lines.append(f"| `{r['preset']}` | {ms['render']:.2f} | {ms['augment']:.2f} | {ms['collate']:.3f} | "
                     f"{ms['mixup_cutmix']:.3f} | {share['render']:.0%} : {share['augment']:.0%} : {batch_share:.0%} | "
                     f"{r['img_per_s_per_core']:,.0f} | {r['cores_to_feed_one_gpu'][0]:.0f}-"
                     f"{r['cores_to_feed_one_gpu'][1]:.0f} ({low:,}-{high:,} img/s) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few images")
    parser.add_argument("--images", type=int, default=160, help="images per preset (default 160)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    images, categories, rounds = (8, 2, 1) if args.quick else (args.images, 8, 4)
    start = time.perf_counter()
    results = [bench_preset(name, images, categories, rounds) for name in GPU_RATES]
    report = {"results": results, "load_average": [round(x, 2) for x in os.getloadavg()],
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "torch_threads": 1, "wall_s": round(time.perf_counter() - start, 1),
              "gpu": "not measured: no GPU was lent to this task; GPU rates are assumptions"}
    print(table(results))
    print(f"load average {report['load_average']}, {report['wall_s']} s")
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / ("loader-quick.json" if args.quick else "loader.json"), json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
