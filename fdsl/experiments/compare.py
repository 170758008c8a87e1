"""The same fine-tuning recipe from scratch and from pre-trained checkpoints, over several seeds:
a table of final validation accuracy (mean and sample std over seeds) and a PNG of the curves.

Each (init, seed) is an ordinary fine-tuning run folder ``out/<init>/seed<N>``; rerunning the same
comparison resumes what an interruption left unfinished and reuses finished runs. With ``jobs`` > 1
that many runs go at once, each in its own process (:mod:`fdsl.experiments.jobs`).
"""
from __future__ import annotations

import dataclasses
import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from fdsl.errors import check
from fdsl.atomic import write_text_atomic
from fdsl.train.config import FinetuneConfig
from fdsl.train.distributed import is_primary
from fdsl.train.finetune import finetune, resolve_init
from fdsl.experiments.jobs import run_parallel
from fdsl.train.trainer import FitResult
from fdsl.viz.curves import plot_curves

SCRATCH = "scratch"


@dataclasses.dataclass
class Comparison:
    out: Path
    #: One entry per init: label, checkpoint, seeds and, per seed, final top-1/top-5, best top-1, curves.
    groups: list[dict]

    @property
    def table(self) -> str:
        return format_table(self.groups)


def default_label(path: str) -> str:
    """A short name for a checkpoint: its run folder's name for ``run/last``, ``run/best`` or a file."""
    p = Path(path)
    name = p.parent.name if p.name in ("last", "best") or p.suffix == ".safetensors" else p.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) or "checkpoint"


def compare(recipe: FinetuneConfig, checkpoints: Sequence[str], *, seeds: Sequence[int], out: str | Path,
            labels: Sequence[str] | None = None, jobs: int = 1) -> Comparison:
    """Fine-tune ``recipe`` from scratch and from each checkpoint (always with a new head), once per
    seed, ``jobs`` runs at a time."""
    out = Path(out)
    check(len(seeds) >= 1, "compare needs at least one seed")
    check(jobs >= 1, f"jobs = {jobs}; allowed: >= 1")
    labels = list(labels) if labels else [default_label(c) for c in checkpoints]
    check(len(labels) == len(checkpoints), f"{len(labels)} labels for {len(checkpoints)} checkpoints")
    check(len(set(labels)) == len(labels) and SCRATCH not in labels,
          f"checkpoint labels must be distinct and not {SCRATCH!r}: {labels}; pass --label for each")
    recipe = dataclasses.replace(recipe, new_head=True)
    if checkpoints:  # scratch trains the checkpoints' architecture
        models = [resolve_init(dataclasses.replace(recipe, init=c))[0].model for c in checkpoints]
        check(all(m.name == models[0].name and m.kwargs == models[0].kwargs for m in models),
              f"compare needs checkpoints of one architecture; got {sorted({m.name for m in models})}")
        recipe = dataclasses.replace(recipe, model=models[0])
    inits = [(SCRATCH, None), *zip(labels, checkpoints)]
    runs = {(label, seed): (dataclasses.replace(recipe, init=init, train=dataclasses.replace(recipe.train, seed=seed)),
                            out / label / f"seed{seed}")
            for label, init in inits for seed in seeds}
    if jobs > 1:
        run_parallel([(finetune, config, run) for config, run in runs.values()], jobs)
        results = {key: FitResult.read(run) for key, (_, run) in runs.items()}
    else:
        results = {key: finetune(config, run, resume=True) for key, (config, run) in runs.items()}
    groups = []
    for label, init in inits:
        runs = []
        for seed in seeds:
            result = results[label, seed]
            runs.append({"seed": seed, "top1": result.last["val_top1"], "top5": result.last["val_top5"],
                         "best_top1": result.best["val_top1"] if result.best else None,
                         "val_top1": [row["val_top1"] for row in result.history],
                         "train_loss": [row["train_loss"] for row in result.history]})
        groups.append({"init": label, "checkpoint": init, "runs": runs})
    comparison = Comparison(out, groups)
    if is_primary():
        write_text_atomic(out / "results.json", json.dumps({"groups": groups}, indent=1))
        write_text_atomic(out / "results.md", comparison.table + "\n")
        plot_curves({"validation top-1 (%)": {g["init"]: [r["val_top1"] for r in g["runs"]] for g in groups},
                     "training loss": {g["init"]: [r["train_loss"] for r in g["runs"]] for g in groups}},
                    out / "curves.png", title=f"fine-tuning on {recipe.data.dataset}")
    return comparison


def _mean_std(values: list[float]) -> str:
    if any(v is None for v in values):
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):6.2f} ± {std:5.2f}"


def format_table(groups: list[dict]) -> str:
    """A Markdown table: final validation top-1 / top-5 and best top-1, mean ± std over seeds."""
    header = ["init", "seeds", "top-1 (%)", "top-5 (%)", "best top-1 (%)"]
    rows = [[g["init"], str(len(g["runs"])), _mean_std([r["top1"] for r in g["runs"]]),
             _mean_std([r["top5"] for r in g["runs"]]), _mean_std([r["best_top1"] for r in g["runs"]])]
            for g in groups]
    return markdown_table(header, rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with its columns padded to a common width."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in [header, *rows]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
