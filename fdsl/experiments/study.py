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
from pathlib import Path
from typing import Any

from fdsl.atomic import write_text_atomic
from fdsl.config_fields import section_at
from fdsl.errors import FdslError, check
from fdsl.experiments.results import Pretraining, StudyResult, StudyRow, markdown_table, study_rows
from fdsl.numeric import to_number
from fdsl.configs import load_yaml, merge, nest, resolve
from fdsl.tasks import FINETUNE, PRETRAIN, get_task, metric_label
from fdsl.viz.curves import plot_scores

STUDY_KEYS = {"task", "seeds", "data", "jobs", "finetune", "pretrain", "variants"}
RECIPE_KEYS = {"preset", "set"}


@dataclasses.dataclass
class Recipe:
    """A preset by name and overrides, as nested dicts or dotted keys (``train.epochs: 16``)."""

    preset: str = "cpu-small"
    set: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StudyConfig:
    #: What is learned (:mod:`fdsl.tasks`): classification, segmentation or points.
    task: str = "classification"
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
    task = str(values.get("task", "classification"))
    get_task(task)  # an unknown task fails here, in one line
    return StudyConfig(task=task, seeds=seeds, data=values.get("data"), jobs=jobs,
                       finetune=_recipe(values.get("finetune", {}), "finetune"),
                       pretrain=_recipe(values.get("pretrain", {}), "pretrain"),
                       variants={str(k): dict(v or {}) for k, v in variants.items()})


def load_study(path: str | Path) -> StudyConfig:
    return parse_study(load_yaml(path))


def pretrain_configs(study: StudyConfig, workers: int | None = None) -> dict[str, Any]:
    """The resolved pre-training config of every variant (validated before anything runs)."""
    task = get_task(study.task)
    loader = {"train": {"workers": workers}} if workers is not None else {}
    configs = {}
    for name, overrides in study.variants.items():
        overrides = dict(overrides)
        preset = str(overrides.pop("preset", study.pretrain.preset))
        base = task.preset(PRETRAIN, preset)
        configs[name] = resolve(base, expand(study.pretrain.set, type(base)), expand(overrides, type(base)), loader)
    return configs


def finetune_config(study: StudyConfig, workers: int | None = None):
    base = get_task(study.task).preset(FINETUNE, study.finetune.preset)
    data = {"data": {"dataset": study.data}} if study.data else {}
    loader = {"train": {"workers": workers}} if workers is not None else {}
    return resolve(base, expand(study.finetune.set, type(base)), data, loader)


def run_study(study: StudyConfig, out: str | Path, *, workers: int | None = None) -> StudyResult:
    """Pre-train every variant, compare them with scratch over the seeds; writes study.md, study.json
    and study.png into ``out``."""
    from fdsl.experiments.compare import compare
    from fdsl.experiments.demo import write_page
    from fdsl.experiments.jobs import Run, run_all
    from fdsl.train.run import runner

    out = Path(out)
    task = get_task(study.task)
    pre_configs = pretrain_configs(study, workers)
    ft_config = finetune_config(study, workers)
    task.check_finetune_data(ft_config.data)  # a bad fine-tuning dataset fails now, not after the pre-training
    check_study_folders(study, out, pre_configs, ft_config)
    names = list(pre_configs)
    pretrain = runner(task, PRETRAIN)
    results = run_all([Run(pretrain, pre_configs[name], out / "pretrain" / name) for name in names], study.jobs)
    pretraining = {name: summarize_pretraining(pre_configs[name], result) for name, result in zip(names, results)}
    comparison = compare(ft_config, [str(out / "pretrain" / n / "last") for n in names], seeds=study.seeds,
                         out=out / "compare", labels=names, jobs=study.jobs, task=task)
    rows = study_rows(comparison.groups, pretraining)
    result = StudyResult(rows, comparison, format_study(rows, ft_config, comparison.labels[0]))
    write_text_atomic(out / "study.md", result.report + "\n")
    write_text_atomic(out / "study.json", json.dumps(result.to_json(), indent=1))
    plot_scores({row.init: row.scores for row in rows}, out / "study.png", metric=comparison.labels[0],
                title=f"fine-tuned on {'/'.join(Path(ft_config.data.dataset).parts[-2:])}")
    write_page(out, out / "report.html", ft_config.data.dataset)
    return result


def check_study_folders(study: StudyConfig, out: Path, pre_configs: dict[str, Any], ft_config) -> None:
    """Every run folder of the study can be written apart from its data, before the first run."""
    from fdsl.experiments.compare import SCRATCH, run_folder
    from fdsl.outputs import check_output, input_folders
    from fdsl.train.checkpoint import check_run_folder

    for config in (ft_config, *pre_configs.values()):
        check_output(out, inputs=input_folders(config))
    for name, config in pre_configs.items():
        check_run_folder(out / "pretrain" / name, config)
    for label in (SCRATCH, *pre_configs):
        for seed in study.seeds:
            check_run_folder(run_folder(out / "compare", label, seed), ft_config)


def summarize_pretraining(config, result) -> Pretraining:
    return Pretraining(minutes=sum(row.get("epoch_s") or 0.0 for row in result.history) / 60,
                       held_out=result.last.get(result.primary), epochs=len(result.history),
                       images=config.data.categories * config.data.instances * config.data.repeats * len(result.history),
                       held_out_metric=result.primary[4:])


def format_study(rows: list[StudyRow], ft_config, metric: str = "top-1") -> str:
    """study.md: the table, then how the scores were measured."""
    header = ["init", "pre-training", "held-out score", f"fine-tuned {metric} (%)", "gap (points)", "gap (std)"]
    table = []
    for row in rows:
        pre = row.pretraining
        cost = f"{pre.epochs} ep, {pre.images / 1000:.0f}k samples, {pre.minutes:.1f} min" if pre else "-"
        held = f"{metric_label(pre.held_out_metric)} {pre.held_out:.1f}%" if pre and pre.held_out is not None else "-"
        gap = f"{row.gap:+.2f}" if row.gap is not None else "-"
        gap_std = f"{row.gap_std:+.1f}" if row.gap is not None else "-"
        table.append([row.init, cost, held, f"{row.mean:.2f} ± {row.std:.2f}", gap, gap_std])
    return "\n".join([markdown_table(header, table), "",
                      f"fine-tuning: {ft_config.data.describe()}, {ft_config.train.epochs} epochs, "
                      f"{len(rows[0].scores)} seeds; score: final-epoch {metric} on the validation split; "
                      "gap (std) = gap / pooled std of the two arms"])


def check_study_file(path: str | Path) -> StudyConfig:
    try:
        return load_study(path)
    except OSError as err:
        raise FdslError(f"cannot read study file {path}: {err.strerror}") from None
