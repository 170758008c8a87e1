"""The same fine-tuning recipe from scratch and from pre-trained checkpoints, over several seeds:
a table of final validation accuracy (mean and sample std over seeds) and a PNG of the curves.

Each (init, seed) is an ordinary fine-tuning run folder ``out/<init>/seed<N>``; rerunning the same
comparison resumes what an interruption left unfinished and reuses finished runs. With ``jobs`` > 1
that many runs go at once, each in its own process (:func:`fdsl.experiments.jobs.run_all`).
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path

from fdsl.atomic import write_text_atomic
from fdsl.errors import check
from fdsl.experiments.jobs import Run, run_all
from fdsl.experiments.results import Comparison, Group, RunScore
from fdsl.outputs import check_output, input_folders
from fdsl.train.checkpoint import check_run_folder
from fdsl.train.distributed import is_primary
from fdsl.tasks import DEFAULT_TASK, FINETUNE, Task, get_task
from fdsl.train.run import runner

SCRATCH = "scratch"


def default_label(path: str) -> str:
    """A short name for a checkpoint: its run folder's name for ``run/last``, ``run/best`` or a file."""
    p = Path(path)
    name = p.parent.name if p.name in ("last", "best") or p.suffix == ".safetensors" else p.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) or "checkpoint"


def compare(recipe, checkpoints: Sequence[str], *, seeds: Sequence[int], out: str | Path,
            labels: Sequence[str] | None = None, jobs: int = 1, task: Task | None = None) -> Comparison:
    """Fine-tune ``recipe`` (a fine-tuning config of ``task``, default classification) from scratch
    and from each checkpoint (always with a new head), once per seed, ``jobs`` runs at a time;
    writes results.json, results.md and curves.png into ``out``."""
    task = task or get_task(DEFAULT_TASK)
    out = Path(out)
    check(len(seeds) >= 1, "compare needs at least one seed")
    check(jobs >= 1, f"jobs = {jobs}; allowed: >= 1")
    labels = list(labels) if labels else [default_label(c) for c in checkpoints]
    check(len(labels) == len(checkpoints), f"{len(labels)} labels for {len(checkpoints)} checkpoints")
    check(len(set(labels)) == len(labels) and SCRATCH not in labels,
          f"checkpoint labels must be distinct and not {SCRATCH!r}: {labels}; pass --label for each")
    recipe = checkpoints_recipe(task.comparison_recipe(recipe), checkpoints, task)
    inits = [(SCRATCH, None), *zip(labels, checkpoints)]
    finetune = runner(task, FINETUNE)
    runs = [Run(finetune, dataclasses.replace(recipe, init=init, train=dataclasses.replace(recipe.train, seed=seed)),
                run_folder(out, label, seed)) for label, init in inits for seed in seeds]
    check_output(out, inputs=input_folders(recipe))  # a bad output fails before the first run, not after some
    for run in runs:
        check_run_folder(run.out, run.config)
    results = iter(run_all(runs, jobs))
    metrics = task.metrics
    comparison = Comparison(out, [Group(label, init, [RunScore.of(seed, next(results), metrics) for seed in seeds])
                                  for label, init in inits], metrics)
    if is_primary():
        save_comparison(comparison, title=f"fine-tuning on {recipe.data.dataset}")
    return comparison


def run_folder(out: Path, label: str, seed: int) -> Path:
    """The run folder of one (init, seed) of a comparison in ``out``."""
    return Path(out) / label / f"seed{seed}"


def checkpoints_recipe(recipe, checkpoints: Sequence[str], task: Task):
    """``recipe`` with the checkpoints' architecture, which scratch trains too (one for all of them)."""
    if not checkpoints:
        return recipe
    models = [task.resolve_init(dataclasses.replace(recipe, init=c))[0].model for c in checkpoints]
    check(all(m == models[0] for m in models),
          f"compare needs checkpoints of one architecture; got {sorted({str(m) for m in models})}")
    return dataclasses.replace(recipe, model=models[0])


def save_comparison(comparison: Comparison, *, title: str) -> None:
    from fdsl.viz.curves import plot_curves

    out = comparison.out
    write_text_atomic(out / "results.json", json.dumps(comparison.to_json(), indent=1))
    write_text_atomic(out / "results.md", comparison.table + "\n")
    groups = comparison.groups
    plot_curves({f"validation {comparison.labels[0]} (%)": {g.init: [r.curve for r in g.runs] for g in groups},
                 "training loss": {g.init: [r.train_loss for r in g.runs] for g in groups}},
                out / "curves.png", title=title)
