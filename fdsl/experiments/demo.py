"""The README's main job, the whole FDSL story on a CPU: pre-train a small ViT on FractalDB rendered
on the fly, fine-tune it on real images (CIFAR-10 by default), fine-tune the same model from
scratch with the same recipe over the same seeds, and print the comparison table.

The recipe is :data:`fdsl.train.presets.DEMO` (presets by name), not code. Every step resumes:
rerunning ``fdsl demo`` after an interruption finishes the job, and after a finished run it only
prints the table again.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from fdsl.train.presets import DEMO, DemoRecipe

log = logging.getLogger(__name__)

#: The shared CIFAR-10 training images, seen from the project's root (developers and CI).
SHARED_CIFAR10 = Path("../shared/data/cifar10/train")


def default_real_data() -> str:
    """The shared CIFAR-10 ImageFolder when present, else torchvision's CIFAR-10 (downloaded)."""
    return str(SHARED_CIFAR10) if SHARED_CIFAR10.is_dir() else "cifar10"


def run_demo(out: Path, *, workers: int | None = None, data: str | None = None,
             recipe: DemoRecipe | None = None, preset: str | None = None) -> str:
    """Run the demo into ``out`` (pretrain/, compare/, gallery.png); returns the printed report."""
    from fdsl.data.datasets import load_categories
    from fdsl.registry import get_formula
    from fdsl.experiments.compare import compare
    from fdsl.train.config import resolve
    from fdsl.train.distributed import configure_logging
    from fdsl.train.presets import finetune_preset, pretrain_preset
    from fdsl.train.pretrain import pretrain
    from fdsl.experiments.study import study_rows
    from fdsl.viz.gallery import formula_gallery, save_png

    configure_logging()
    recipe = recipe or DEMO
    if preset:
        recipe = dataclasses.replace(recipe, pretrain=preset)
    start = time.perf_counter()
    out = Path(out)
    data = data or default_real_data()
    loader = {"train": {"workers": workers}} if workers is not None else {}
    pre_config = resolve(pretrain_preset(recipe.pretrain), loader)
    formula = get_formula(pre_config.data.family, **pre_config.data.formula)
    sample = dataclasses.replace(pre_config.data, categories=min(8, pre_config.data.categories))
    gallery = formula_gallery(formula, load_categories(formula, sample), seed=sample.seed,
                              instances=list(range(6)), tile=64)
    save_png(gallery, out / "gallery.png")

    log.info("1/2 pre-training (%s preset) on %s categories x %s instances rendered on the fly, %d process(es)",
             recipe.pretrain, pre_config.data.categories, pre_config.data.instances, recipe.processes)
    if recipe.processes > 1:
        pre = pretrain_distributed(pre_config, out / "pretrain", recipe.processes)
    else:
        pre = pretrain(pre_config, out / "pretrain", resume=True)
    pre_minutes = (time.perf_counter() - start) / 60

    ft_config = resolve(finetune_preset(recipe.finetune), loader, {
        "data": {"dataset": data, "root": str(out / "data"), "train_per_class": recipe.train_per_class},
    })
    log.info("2/2 fine-tuning (%s preset) on %s, %d images per class, from scratch and from the pre-trained "
             "weights, seeds %s", recipe.finetune, data, recipe.train_per_class, list(recipe.seeds))
    comparison = compare(ft_config, [str(out / "pretrain" / "last")], seeds=recipe.seeds, out=out / "compare",
                         labels=[pre_config.data.family], jobs=recipe.jobs)
    minutes = (time.perf_counter() - start) / 60
    held_out = pre.last.get("val_top1")
    gap = study_rows(comparison.groups, {})[1]
    report = "\n".join([
        f"pre-training: {pre_config.model.name} {pre_config.model.kwargs}, {len(pre.history)} epochs on "
        f"{pre_config.data.family} ({pre_config.data.categories} categories x {pre_config.data.instances} "
        f"instances, on the fly)" + (f", held-out top-1 {held_out:.1f}%" if held_out is not None else ""),
        f"fine-tuning: {data}, {recipe.train_per_class} images per class x {ft_config.train.epochs} epochs, "
        f"validation: {ft_config.data.val_per_class} held-out images per class (last {ft_config.data.holdout:.0%} "
        "of each class), final epoch",
        "",
        comparison.table,
        "",
        f"{pre_config.data.family} - scratch: {gap['gap']:+.2f} points of top-1, {gap['gap_std']:+.1f} pooled standard deviations "
        f"over {len(recipe.seeds)} seeds",
        f"wall time: {minutes:.1f} min (pre-training {pre_minutes:.1f} min); curves: {out / 'compare' / 'curves.png'}",
    ])
    print(report)
    return report


def pretrain_distributed(config, out: Path, processes: int):
    """Pre-train with ``processes`` DDP processes under torchrun (gloo on a CPU), splitting the
    recipe's batch between them; returns the run's result, read from its folder."""
    import os
    import signal
    import subprocess
    import sys

    from fdsl.errors import FdslError, check
    from fdsl.atomic import write_text_atomic
    from fdsl.train.checkpoint import is_finished
    from fdsl.train.config import dump_yaml
    from fdsl.experiments.jobs import quiet_for_s, stall_limit_s
    from fdsl.train.trainer import FitResult

    check(config.train.batch_size % processes == 0,
          f"batch size {config.train.batch_size} does not split into {processes} processes")
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, batch_size=config.train.batch_size // processes))
    if is_finished(out, config):
        return FitResult.read(out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = out.parent / "pretrain-ddp.yaml"
    write_text_atomic(recipe, dump_yaml(config))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "fdsl", "pretrain", "--config", str(recipe), "-o", str(out), "--resume"]
    # torchrun ends the other ranks when one fails; a run that is stuck all the same (its folder
    # unchanged for 3 x train.timeout_s) is killed with its ranks and reported, not waited on.
    torchrun = subprocess.Popen(command, start_new_session=True)
    started, limit = time.time(), stall_limit_s(config)
    while torchrun.poll() is None:
        if quiet_for_s(out, started) > limit:
            os.killpg(torchrun.pid, signal.SIGKILL)
            torchrun.wait()
            raise FdslError(f"distributed pre-training stalled: nothing written to {str(out)!r} for {limit:g} s "
                            "(3 x train.timeout_s); killed; run the same command again to resume it")
        time.sleep(1.0)
    if torchrun.returncode != 0:
        raise FdslError(f"distributed pre-training failed (exit status {torchrun.returncode}; the lines above say "
                        f"why; run the same command again to resume it; command: {' '.join(command)})")
    return FitResult.read(out)
