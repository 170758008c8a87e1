"""The transfer study: a grid of pre-training variants against scratch under one fine-tuning recipe.

A study is one YAML file (see ``studies/``): the fine-tuning recipe (a preset plus overrides), the
pre-training recipe shared by every variant, and the variants, each a set of config overrides
(a family, a number of categories, colour, a model, a schedule...), never a code path::

    seeds: [0, 1, 2]
    finetune: {preset: cpu-small, set: {data.train_per_class: 100, train.epochs: 30}}
    pretrain: {preset: cpu-small, set: {train.epochs: 16}}
    variants:
      fractaldb: {}
      perlin: {data.family: perlin, data.formula: {size: 32}, data.categories: 100}

Each variant is pre-trained once (``out/pretrain/<name>``), then :func:`fdsl.experiments.compare.compare`
fine-tunes scratch and every variant once per seed (``out/compare``). Every score is measured on
images held out of the real training split. The report adds to compare's table the gap to scratch
in points and in standard deviations (pooled over the two arms), the pre-training time and
held-out accuracy, and draws the scores per seed. Everything resumes: rerunning a study reuses
finished runs.
"""
from __future__ import annotations

import dataclasses
import json
import math
import statistics
from pathlib import Path
from typing import Any

from fdsl.config_fields import section_at
from fdsl.errors import FdslError, check
from fdsl.atomic import atomic_path, write_text_atomic
from fdsl.numeric import to_number
from fdsl.train.config import load_yaml, merge, nest, resolve

STUDY_KEYS = {"seeds", "data", "jobs", "finetune", "pretrain", "variants"}
RECIPE_KEYS = {"preset", "set"}


@dataclasses.dataclass
class Recipe:
    """A preset by name and overrides, as nested dicts or dotted keys (``train.epochs: 16``)."""

    preset: str = "cpu-small"
    set: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StudyConfig:
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    #: Real images to fine-tune on (a dataset name or an ImageFolder path); None: the recipe's.
    data: str | None = None
    #: Runs at a time, each in its own process (:mod:`fdsl.experiments.jobs`): on a CPU, the number of cores.
    jobs: int = 1
    finetune: Recipe = dataclasses.field(default_factory=Recipe)
    pretrain: Recipe = dataclasses.field(default_factory=Recipe)
    #: Variant name -> overrides of the shared pre-training recipe (may hold ``preset``).
    variants: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def expand(overrides: dict[str, Any], cls: type) -> dict[str, Any]:
    """Nested overrides of the config dataclass ``cls`` from a mapping whose keys may be dotted
    paths, in its sections too (``optim: {decay_milestones: [30]}, data.categories: 100``)."""
    result: dict[str, Any] = {}
    for key, value in overrides.items():
        path = str(key).split(".")
        section = section_at(cls, path)
        value = expand(value, section) if isinstance(value, dict) and section is not None else value
        result = merge(result, nest(path, value), cls)
    return result


def _recipe(values: Any, where: str) -> Recipe:
    check(isinstance(values, dict), f"{where} must be a mapping with 'preset' and/or 'set'")
    unknown = set(values) - RECIPE_KEYS
    check(not unknown, f"unknown key(s) {sorted(unknown)} in {where}; valid: {sorted(RECIPE_KEYS)}")
    overrides = values.get("set") or {}
    check(isinstance(overrides, dict), f"{where}.set must be a mapping of config keys to values")
    return Recipe(preset=str(values.get("preset", "cpu-small")), set=dict(overrides))


def parse_study(values: dict[str, Any]) -> StudyConfig:
    """A :class:`StudyConfig` from a YAML mapping, with one-line errors for what does not fit."""
    check(isinstance(values, dict), "a study file must be a mapping")
    unknown = set(values) - STUDY_KEYS
    check(not unknown, f"unknown key(s) {sorted(unknown)} in the study; valid: {sorted(STUDY_KEYS)}")
    seeds = values.get("seeds", [0, 1, 2])
    check(isinstance(seeds, list) and len(seeds) > 0, f"seeds = {seeds!r}; allowed: a non-empty list of integers")
    seeds = [to_number(seed, int, f"seeds[{i}]") for i, seed in enumerate(seeds)]
    variants = values.get("variants") or {}
    check(isinstance(variants, dict) and variants, "the study needs at least one variant under 'variants'")
    for name, overrides in variants.items():
        check(isinstance(overrides, dict | None), f"variant {name!r} must be a mapping of config keys to values")
        check(str(name) != "scratch" and str(name).replace("-", "").replace("_", "").isalnum(),
              f"variant name {name!r}; allowed: letters, digits, '-' and '_', not 'scratch'")
    jobs = to_number(values.get("jobs", 1), int, "jobs")
    check(jobs >= 1, f"jobs = {jobs!r}; allowed: an integer >= 1")
    return StudyConfig(seeds=seeds, data=values.get("data"), jobs=jobs,
                       finetune=_recipe(values.get("finetune", {}), "finetune"),
                       pretrain=_recipe(values.get("pretrain", {}), "pretrain"),
                       variants={str(k): dict(v or {}) for k, v in variants.items()})


def load_study(path: str | Path) -> StudyConfig:
    return parse_study(load_yaml(path))


def pretrain_configs(study: StudyConfig, workers: int | None = None) -> dict[str, Any]:
    """The resolved pre-training config of every variant (validated before anything runs)."""
    from fdsl.train.presets import pretrain_preset

    loader = {"train": {"workers": workers}} if workers is not None else {}
    configs = {}
    for name, overrides in study.variants.items():
        overrides = dict(overrides)
        preset = str(overrides.pop("preset", study.pretrain.preset))
        base = pretrain_preset(preset)
        configs[name] = resolve(base, expand(study.pretrain.set, type(base)), expand(overrides, type(base)), loader)
    return configs


def finetune_config(study: StudyConfig, workers: int | None = None):
    from fdsl.train.presets import finetune_preset

    data = {"data": {"dataset": study.data}} if study.data else {}
    loader = {"train": {"workers": workers}} if workers is not None else {}
    base = finetune_preset(study.finetune.preset)
    return resolve(base, expand(study.finetune.set, type(base)), data, loader)


def run_study(study: StudyConfig, out: str | Path, *, workers: int | None = None) -> str:
    """Pre-train every variant, compare them with scratch over the seeds; returns the report."""
    from fdsl.data.datasets import real_datasets
    from fdsl.experiments.compare import compare
    from fdsl.experiments.jobs import run_parallel
    from fdsl.train.pretrain import pretrain
    from fdsl.train.trainer import FitResult

    out = Path(out)
    pre_configs = pretrain_configs(study, workers)
    ft_config = finetune_config(study, workers)
    real_datasets(ft_config.data)  # a bad fine-tuning dataset fails now, not after the pre-training
    if study.jobs > 1:
        run_parallel([(pretrain, config, out / "pretrain" / name) for name, config in pre_configs.items()], study.jobs)
    pre = {}
    for name, config in pre_configs.items():
        run = out / "pretrain" / name
        result = FitResult.read(run) if study.jobs > 1 else pretrain(config, run, resume=True)
        pre[name] = {"minutes": sum(row.get("epoch_s") or 0.0 for row in result.history) / 60,
                     "held_out_top1": result.last.get("val_top1"), "epochs": len(result.history),
                     "images": config.data.categories * config.data.instances * config.data.repeats * len(result.history)}
    names = list(pre_configs)
    comparison = compare(ft_config, [str(out / "pretrain" / n / "last") for n in names], seeds=study.seeds,
                         out=out / "compare", labels=names, jobs=study.jobs)
    rows = study_rows(comparison.groups, pre)
    report = format_study(rows, ft_config)
    write_text_atomic(out / "study.md", report + "\n")
    write_text_atomic(out / "study.json", json.dumps({"rows": rows, "groups": comparison.groups}, indent=1))
    plot_study(rows, out / "study.png", title=f"fine-tuned on {'/'.join(Path(ft_config.data.dataset).parts[-2:])}")
    return report


def study_rows(groups: list[dict], pre: dict[str, dict]) -> list[dict]:
    """One row per init: scores per seed, mean, std, and the gap to scratch (points, pooled stds)."""
    scratch = [r["top1"] for r in groups[0]["runs"]]
    rows = []
    for group in groups:
        scores = [r["top1"] for r in group["runs"]]
        mean, std = statistics.fmean(scores), _std(scores)
        row = {"init": group["init"], "scores": scores, "mean": mean, "std": std, **pre.get(group["init"], {})}
        if group is not groups[0]:
            gap = mean - statistics.fmean(scratch)
            pooled = math.sqrt((std ** 2 + _std(scratch) ** 2) / 2)
            row.update(gap=gap, gap_std=gap / pooled if pooled > 0 else math.copysign(math.inf, gap) if gap else 0.0)
        rows.append(row)
    return rows


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def format_study(rows: list[dict], ft_config) -> str:
    from fdsl.experiments.compare import markdown_table

    header = ["init", "pre-training", "held-out top-1", "fine-tuned top-1 (%)", "gap (points)", "gap (std)"]
    table = []
    for row in rows:
        pre = f"{row['epochs']} ep, {row['images'] / 1000:.0f}k img, {row['minutes']:.1f} min" if "epochs" in row else "-"
        held = f"{row['held_out_top1']:.1f}%" if row.get("held_out_top1") is not None else "-"
        gap = f"{row['gap']:+.2f}" if "gap" in row else "-"
        gap_std = f"{row['gap_std']:+.1f}" if "gap" in row else "-"
        table.append([row["init"], pre, held, f"{row['mean']:.2f} ± {row['std']:.2f}", gap, gap_std])
    lines = [markdown_table(header, table)]
    data = ft_config.data
    seeds = len(rows[0]["scores"])
    lines += ["", f"fine-tuning: {data.dataset}, {data.train_per_class or 'all'} images per class, "
                  f"{ft_config.train.epochs} epochs, {seeds} seeds; score: final-epoch top-1 on "
                  f"{data.val_per_class or 'all'} held-out images per class (last {data.holdout:.0%} of each class); "
                  "gap (std) = gap / pooled std of the two arms"]
    return "\n".join(lines)


def plot_study(rows: list[dict], path: Path, *, title: str) -> None:
    """Mean ± std per init as bars, each seed's score as a dot."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed

    figure = Figure(figsize=(max(4.0, 1.2 + 1.1 * len(rows)), 3.6), layout="constrained")
    ax = figure.subplots()
    for i, row in enumerate(rows):
        ax.bar(i, row["mean"], yerr=row["std"], color="0.75" if i == 0 else "C0", capsize=4)
        ax.plot([i] * len(row["scores"]), row["scores"], "k.", markersize=5)
    ax.set_xticks(range(len(rows)), [r["init"] for r in rows], rotation=30, ha="right")
    ax.set_ylim(max(0.0, min(min(r["scores"]) for r in rows) - 5), max(max(r["scores"]) for r in rows) + 3)
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")


def check_study_file(path: str | Path) -> StudyConfig:
    try:
        return load_study(path)
    except OSError as err:
        raise FdslError(f"cannot read study file {path}: {err.strerror}") from None
