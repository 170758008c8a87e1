"""The README's main job, the whole FDSL story on a CPU: pre-train a small ViT on FractalDB rendered
on the fly, fine-tune it on real images (CIFAR-10 by default), fine-tune the same model from
scratch with the same recipe over the same seeds, and report the comparison table.

The recipe is :data:`fdsl.tasks.classification.presets.DEMO` (presets by name), not code. Every step resumes:
rerunning ``fdsl demo`` after an interruption finishes the job, and after a finished run it only
reports the table again.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from fdsl.experiments.results import DemoReport, study_rows
from fdsl.tasks.classification.presets import DEMO, DemoRecipe

log = logging.getLogger(__name__)

#: The shared CIFAR-10 training images, seen from the project's root (developers and CI).
SHARED_CIFAR10 = Path("../shared/data/cifar10/train")


def default_real_data() -> str:
    """The shared CIFAR-10 ImageFolder when present, else torchvision's CIFAR-10 (downloaded)."""
    return str(SHARED_CIFAR10) if SHARED_CIFAR10.is_dir() else "cifar10"


def run_demo(out: Path, *, workers: int | None = None, data: str | None = None,
             recipe: DemoRecipe | None = None, preset: str | None = None) -> DemoReport:
    """Run the demo into ``out`` (pretrain/, compare/, gallery.png); returns its report."""
    from fdsl.configs import resolve
    from fdsl.experiments.compare import compare
    from fdsl.experiments.launch import run_distributed
    from fdsl.tasks import FINETUNE, PRETRAIN, get_task
    from fdsl.outputs import check_output
    from fdsl.train.distributed import configure_logging
    from fdsl.train.run import run

    configure_logging()
    recipe = recipe or DEMO
    if preset:
        recipe = dataclasses.replace(recipe, pretrain=preset)
    start = time.perf_counter()
    out = Path(out)
    data = data or default_real_data()
    loader = {"train": {"workers": workers}} if workers is not None else {}
    task = get_task(recipe.task)
    pre_config = resolve(task.preset(PRETRAIN, recipe.pretrain), loader)
    check_output(out, inputs={"--data": data}, writes=("pretrain", "compare", "data", "gallery.png", "report.html"))
    save_gallery(pre_config.data, out / "gallery.png")

    log.info("1/2 pre-training (%s preset) on %s categories x %s instances rendered on the fly, %d process(es)",
             recipe.pretrain, pre_config.data.categories, pre_config.data.instances, recipe.processes)
    if recipe.processes > 1:
        pre = run_distributed(task.name, PRETRAIN, pre_config, out / "pretrain", recipe.processes)
    else:
        pre = run(task, PRETRAIN, pre_config, out / "pretrain", resume=True)
    pre_minutes = (time.perf_counter() - start) / 60

    ft_config = resolve(task.preset(FINETUNE, recipe.finetune), loader, {
        "data": {"dataset": data, "root": str(out / "data"), "train_per_class": recipe.train_per_class},
    })
    log.info("2/2 fine-tuning (%s preset) on %s, %d images per class, from scratch and from the pre-trained "
             "weights, seeds %s", recipe.finetune, data, recipe.train_per_class, list(recipe.seeds))
    comparison = compare(ft_config, [str(out / "pretrain" / "last")], seeds=recipe.seeds, out=out / "compare",
                         labels=[pre_config.data.family], jobs=recipe.jobs, task=task)
    report = write_page(out / "compare", out / "report.html", data)
    return DemoReport(pretraining=pretraining_line(pre_config, pre), finetuning=finetuning_line(ft_config, recipe),
                      comparison=comparison, gap=study_rows(comparison.groups, {})[1],
                      minutes=(time.perf_counter() - start) / 60, pretraining_minutes=pre_minutes, report=report)


def write_page(results: Path, page: Path, data: str) -> Path:
    """The one-page report of ``results`` with the analysis of its models, over the real images when
    ``data`` is an image folder (demo and study write one at the end)."""
    from fdsl.report import write_report

    log.info("writing the report %s (with the analysis of the models)", page)
    write_report(results, page, analyze_models=True, real_images=data if Path(data).is_dir() else None)
    return page


def save_gallery(data, path: Path) -> None:
    """Six instances of each of the first eight categories of the pre-training data."""
    from fdsl.data.datasets import load_categories
    from fdsl.registry import get_formula
    from fdsl.viz.gallery import formula_gallery, save_png

    formula = get_formula(data.family, **data.formula)
    sample = dataclasses.replace(data, categories=min(8, data.categories))
    gallery = formula_gallery(formula, load_categories(formula, sample), seed=sample.seed,
                              instances=list(range(6)), tile=64)
    save_png(gallery, path)


def pretraining_line(config, result) -> str:
    held_out = result.last.get("val_top1")
    return (f"pre-training: {config.model.name} {config.model.kwargs}, {len(result.history)} epochs on "
            f"{config.data.family} ({config.data.categories} categories x {config.data.instances} "
            f"instances, on the fly)" + (f", held-out top-1 {held_out:.1f}%" if held_out is not None else ""))


def finetuning_line(config, recipe: DemoRecipe) -> str:
    data = config.data
    return (f"fine-tuning: {data.dataset}, {recipe.train_per_class} images per class x {config.train.epochs} epochs, "
            f"validation: {data.val_per_class} held-out images per class (last {data.holdout:.0%} "
            "of each class), final epoch")
