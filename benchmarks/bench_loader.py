"""The on-the-fly input pipeline of the GPU presets, stage by stage, on one core, with both
augmentation backends (``augment.backend``: timm on PIL images, torchvision v2 on uint8 tensors).

    python benchmarks/bench_loader.py            # fractaldb-deit-tiny and fractaldb-resnet50, under 1 min
    python benchmarks/bench_loader.py --quick    # a smoke run (few images)

For each preset, in one process with one torch thread, CPU time (``time.process_time``, so the
rates hold on a loaded machine) of:
- render: ``FormulaDataset.item`` (FractalDB at the released 362 px, 200k points, patch grey);
- augment: the preset's per-image training transform (RandomResizedCrop to 224, RandAugment,
  tensor, normalisation, random erasing), what each loader worker runs after rendering, in each
  backend, timed image by image in turn on the same rendered images;
- batch: collating a batch and the preset's batch-level mixup/cutmix, timed here on the CPU. The
  training engine applies mixup after moving the batch to the device (``engine.train_one_epoch``),
  so on a GPU this stage is not a loader worker's.
- ``augment.on_device``: each backend's transform stopping at uint8 (crop, flips, RandAugment), the
  uint8 batch collated, and the device stage (``fdsl.tasks.classification.augment.device_stage``: float
  conversion, normalisation and random erasing of the whole batch) timed on this CPU; on a GPU
  that stage runs on the device and costs no loader core.
Per-core rate = images per CPU second of render + augment (+ collate); cores to feed one GPU =
training rate / per-core rate. The GPU rates are assumptions, not measurements (no GPU was lent):
about 2,500-3,000 img/s for DeiT-Tiny and 1,200-1,500 img/s for ResNet-50 on one H100 in bf16.

Prints a table; writes ``benchmarks/results/loader.json`` (``loader-quick.json`` with --quick):
the timm figures under the fields they always had, the v2 and on-device ones under ``v2`` and
``on_device``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.v2 import functional as v2_functional

from fdsl.atomic import write_text_atomic
from fdsl.data.config import FormulaDataConfig
from fdsl.data.datasets import formula_datasets
from fdsl.tasks.classification.augment import build_transforms, device_stage, mixup_and_loss
from fdsl.tasks.classification.presets import PRETRAIN_PRESETS

RESULTS = Path(__file__).parent / "results"
#: Assumed training rates (images/s) on one H100 in bf16: (low, high). Not measured here.
GPU_RATES = {"fractaldb-deit-tiny": (2500, 3000), "fractaldb-resnet50": (1200, 1500)}


def cpu_seconds(action, count: int) -> float:
    start = time.process_time()
    for index in range(count):
        action(index)
    return time.process_time() - start


def per_image_cpu_seconds(transforms: dict[str, Callable], images: list, keep: int = 64
                          ) -> tuple[dict[str, float], dict[str, list]]:
    """CPU seconds per image of each transform, the transforms taking turns image by image (so a
    change of load hits all alike) from the same seeds (so variants of one backend draw the same
    operations); and each transform's outputs of the first ``keep`` images."""
    for transform in transforms.values():  # first calls set up kernels and caches: not timed
        for image in images[:4]:
            transform(image)
    spent, outputs = dict.fromkeys(transforms, 0.0), {name: [] for name in transforms}
    for index, image in enumerate(images):
        for name, transform in transforms.items():
            random.seed(index)  # timm draws from random and NumPy, v2 from torch
            np.random.seed(index)
            torch.manual_seed(index)
            start = time.process_time()
            out = transform(image)
            spent[name] += time.process_time() - start
            if index < keep:
                outputs[name].append(out)
    return {name: seconds / len(images) for name, seconds in spent.items()}, outputs


def bench_preset(name: str, images: int, categories: int, batch_rounds: int) -> dict:
    config = PRETRAIN_PRESETS[name]()
    augment = replace(config.augment, on_device=False)  # per image, the rows' baseline
    data = FormulaDataConfig(**{**config.data.__dict__, "categories": categories, "val_instances": 0})
    train_set, _, _ = formula_datasets(data)
    per_category = max(1, images // categories)
    indices = [c * data.instances + i for c in range(categories) for i in range(per_category)][:images]
    rendered = []
    render_s = cpu_seconds(lambda k: rendered.append(train_set.item(indices[k])), len(indices))
    on_device = replace(augment, on_device=True)
    augment_s, outputs = per_image_cpu_seconds({
        "timm": build_transforms(augment)[0], "v2": build_transforms(replace(augment, backend="v2"))[0],
        "timm_on_device": build_transforms(on_device)[0],
        "v2_on_device": build_transforms(replace(on_device, backend="v2"))[0],
    }, rendered)
    batch = config.train.batch_size
    labels = torch.arange(batch) % 1000
    per_batch = batch_rounds * batch
    floats = [outputs["timm"][k % len(outputs["timm"])] for k in range(batch)]
    crops = [outputs["timm_on_device"][k % len(outputs["timm"])] for k in range(batch)]
    collate_s = cpu_seconds(lambda _: torch.stack(floats), batch_rounds) / per_batch
    collate_uint8_s = cpu_seconds(lambda _: torch.stack(crops), batch_rounds) / per_batch
    mixup, _ = mixup_and_loss(augment, 1000)
    inputs = torch.stack(floats)
    mixup_s = cpu_seconds(lambda _: mixup(inputs.clone(), labels), batch_rounds) / per_batch if mixup else 0.0
    stage = device_stage(on_device, "cpu")
    uint8_batch = torch.stack(crops)
    stage_s = cpu_seconds(lambda _: list(stage([(uint8_batch, labels)])), batch_rounds) / per_batch
    per_image = {"render": render_s / len(indices), "augment": augment_s["timm"], "collate": collate_s,
                 "mixup_cutmix": mixup_s}
    result = summarise(name, config, per_image, len(indices))
    result["v2"] = rates(name, {**per_image, "augment": augment_s["v2"]})
    result["v2"]["augment_speedup"] = round(augment_s["timm"] / augment_s["v2"], 2)
    if augment.auto_augment:
        result["rand_augment_op_ms"] = rand_augment_ops(augment, rendered[:32])
    result["on_device"] = {
        # float conversion, normalisation and erasing of the batch (device_stage), timed on this CPU
        "stage_cpu_ms_per_image": ms(stage_s),
        "timm": rates(name, {**per_image, "augment": augment_s["timm_on_device"], "collate": collate_uint8_s}),
        "v2": rates(name, {**per_image, "augment": augment_s["v2_on_device"], "collate": collate_uint8_s}),
    }
    return result


def rand_augment_ops(augment, images: list) -> dict[str, dict[str, float]]:
    """CPU ms per image of each RandAugment op of each backend, always applied, at the config's
    magnitude exactly, on ``images`` resized to the crop size: timm's ops on PIL images, v2's on
    uint8 tensors (through v2.RandAugment's private op table, as its own forward does)."""
    size = (augment.img_size, augment.img_size)
    pil = [image.resize(size) for image in images]
    tensors = [v2_functional.pil_to_tensor(image).contiguous() for image in pil]
    timm_ops = next(step for step in build_transforms(augment)[0].transforms if hasattr(step, "ops")).ops
    v2_ops = build_transforms(replace(augment, backend="v2"))[0].transforms
    rand_augment = next(step.transforms[0] for step in v2_ops if hasattr(step, "transforms"))
    out = {"timm": {}, "v2": {}}
    for op in timm_ops:
        op.prob, op.magnitude_std = 1.0, 0.0
        op(pil[0])  # untimed first call, as in per_image_cpu_seconds
        out["timm"][op.name] = ms(cpu_seconds(lambda k: op(pil[k]), len(pil)) / len(pil))
    for name, (magnitudes, _) in rand_augment._AUGMENTATION_SPACE.items():
        levels = magnitudes(rand_augment.num_magnitude_bins, *size)
        level = float(levels[rand_augment.magnitude]) if levels is not None and levels.ndim else 0.0
        def apply(k: int) -> None:
            rand_augment._apply_image_or_video_transform(
                tensors[k], name, level, interpolation=rand_augment.interpolation, fill=rand_augment._fill)

        apply(0)
        out["v2"][name] = ms(cpu_seconds(apply, len(tensors)) / len(tensors))
    for ops in out.values():
        ops["mean"] = round(sum(ops.values()) / len(ops), 3)
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def rates(name: str, per_image: dict[str, float]) -> dict:
    """Per-core rate of a loader worker (render + augment + collate) and cores for one GPU."""
    rate = 1.0 / (per_image["render"] + per_image["augment"] + per_image["collate"])
    low, high = GPU_RATES[name]
    return {"augment_ms": ms(per_image["augment"]), "collate_ms": ms(per_image["collate"]),
            "img_per_s_per_core": round(rate, 1), "cores_to_feed_one_gpu": [round(low / rate, 1), round(high / rate, 1)]}


def summarise(name: str, config, per_image: dict[str, float], images: int) -> dict:
    worker = per_image["render"] + per_image["augment"] + per_image["collate"]
    total = worker + per_image["mixup_cutmix"]
    rate = 1.0 / worker
    low, high = GPU_RATES[name]
    return {
        "preset": name, "images": images, "batch_size": config.train.batch_size,
        "ms_per_image": {k: ms(v) for k, v in per_image.items()},
        "share": {k: round(v / total, 3) for k, v in per_image.items()},
        "img_per_s_per_core": round(rate, 1),
        "img_per_s_per_core_with_cpu_mixup": round(1.0 / total, 1),
        "assumed_gpu_img_per_s": [low, high],
        "cores_to_feed_one_gpu": [round(low / rate, 1), round(high / rate, 1)],
    }


def variants(r: dict) -> list[tuple[str, dict, dict[str, float]]]:
    """(row label, its rates, the steps it runs on the batch: CPU ms per image) of one result."""
    mixup = r["ms_per_image"]["mixup_cutmix"]
    timm = {"augment_ms": r["ms_per_image"]["augment"], "collate_ms": r["ms_per_image"]["collate"],
            "img_per_s_per_core": r["img_per_s_per_core"], "cores_to_feed_one_gpu": r["cores_to_feed_one_gpu"]}
    on_device = r["on_device"]
    stage = {"float, normalise, erase": on_device["stage_cpu_ms_per_image"]}
    rows = [("timm, per image", timm, {}), ("v2, per image", r["v2"], {}),
            ("timm, `on_device`", on_device["timm"], stage), ("v2, `on_device`", on_device["v2"], stage)]
    return [(label, rates_, {**steps, **({"mixup/cutmix": mixup} if mixup else {})}) for label, rates_, steps in rows]


def span(low: float, high: float) -> str:
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def table(results: list[dict]) -> str:
    lines = ["| preset | augmentation | render ms | augment ms | collate ms | on the batch, CPU ms (not the worker's) "
             "| img/s/core | cores for one GPU (assumed rate) |", "| --- | --- | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in results:
        low, high = r["assumed_gpu_img_per_s"]
        for label, figures, on_batch in variants(r):
            steps = ", ".join(f"{step} {value:.2f}" for step, value in on_batch.items()) or "none"
            cores = figures["cores_to_feed_one_gpu"]
            lines.append(f"| `{r['preset']}` | {label} | {r['ms_per_image']['render']:.2f} | "
                         f"{figures['augment_ms']:.2f} | {figures['collate_ms']:.2f} | {steps} | "
                         f"{figures['img_per_s_per_core']:,.0f} | {span(*cores)} ({low:,}-{high:,} img/s) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few images")
    parser.add_argument("--images", type=int, default=320, help="images per preset (default 320)")
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
    for r in results:
        if "rand_augment_op_ms" in r:
            for backend, ops in r["rand_augment_op_ms"].items():
                print(f"{r['preset']} RandAugment ops, {backend}, ms: " + ", ".join(f"{k} {v:.2f}" for k, v in ops.items()))
    print(f"load average {report['load_average']}, {report['wall_s']} s")
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / ("loader-quick.json" if args.quick else "loader.json"), json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
