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

A variant may name another ``task`` for its pre-training (a detection study's classification
backbones: ``fractaldb: {task: classification, model.name: resnet18, ...}``); it then starts from that
task's preset (its ``preset``, else the study's ``pretrain.preset``), and the study's ``pretrain.set``,
written for the study's task, does not apply to it.

Each variant is pre-trained once (``out/pretrain/<name>``), then :func:`fdsl.experiments.compare.compare`
fine-tunes scratch and every variant once per seed (``out/compare``). A variant may name another
``task`` that pre-trains it (a 2-D image classifier that the video task inflates): it then starts
from that task's preset and takes its own overrides only, since the shared ``pretrain.set`` is the
study task's. ``folds`` (fold name -> fine-tuning overrides, e.g. the person a leave-one-person-out
fold holds out) run the comparison once per fold (``out/compare/<fold>``); a seed's score is then
the mean of its folds' scores, and study.md adds each fold's. Every score is measured on
images held out of the real training split. The report adds to compare's table the gap to scratch
in points and in standard deviations (pooled over the two arms), the pre-training time and
held-out accuracy, and draws the scores per seed. Everything resumes: rerunning a study reuses
finished runs.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any

from fdsl.atomic import write_text_atomic
from fdsl.config_fields import section_at
from fdsl.errors import FdslError, check
from fdsl.experiments.results import (Comparison, Group, Pretraining, RunScore, StudyResult, StudyRow, markdown_table,
                                     mean_std, sample_std, study_rows)
from fdsl.numeric import to_number
from fdsl.configs import load_yaml, merge, nest, resolve
from fdsl.tasks import FINETUNE, PRETRAIN, get_task, metric_label
from fdsl.train.distributed import is_primary
from fdsl.viz.curves import plot_scores

STUDY_KEYS = {"task", "seeds", "data", "jobs", "finetune", "pretrain", "variants", "folds", "claims"}
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
    #: Variant name -> overrides of the shared pre-training recipe (may hold ``preset``, and ``task``:
    #: the task that pre-trains it, by default the study's; another task starts from its own preset and these
    #: overrides alone).
    variants: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: Fold name -> overrides of the fine-tuning recipe: one comparison per fold, scores averaged over folds.
    folds: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: The papers' orders of the arms, checked in ranking.md (:mod:`fdsl.experiments.ranking`).
    claims: list[Any] = dataclasses.field(default_factory=list)

    def variant_task(self, name: str) -> str:
        return str(self.variants[name].get("task", self.task))


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
        get_task(str((overrides or {}).get("task", "classification")))  # an unknown task fails here, in one line
    folds = values.get("folds") or {}
    check(isinstance(folds, dict) and all(isinstance(v, dict) for v in folds.values()),
          "folds must map each fold's name to fine-tuning overrides, e.g. {p1: {data.test_group: '1'}}")
    for name in folds:
        check(str(name).replace("-", "").replace("_", "").isalnum(),
              f"fold name {name!r}; allowed: letters, digits, '-' and '_'")
    jobs = to_number(values.get("jobs", 1), int, "jobs")
    check(jobs >= 1, f"jobs = {jobs!r}; allowed: an integer >= 1")
    task = str(values.get("task", "classification"))
    for name in [task, *(str(v["task"]) for v in variants.values() if isinstance(v, dict) and "task" in v)]:
        get_task(name)  # an unknown task fails here, in one line
    from fdsl.experiments.ranking import SCRATCH, parse_claims

    claims = parse_claims(values.get("claims"), [SCRATCH, *map(str, variants)])
    return StudyConfig(task=task, seeds=seeds, data=values.get("data"), jobs=jobs, claims=claims,
                       finetune=_recipe(values.get("finetune", {}), "finetune"),
                       pretrain=_recipe(values.get("pretrain", {}), "pretrain"),
                       variants={str(k): dict(v or {}) for k, v in variants.items()},
                       folds={str(k): dict(v) for k, v in folds.items()})


def load_study(path: str | Path) -> StudyConfig:
    return parse_study(load_yaml(path))


def pretrain_configs(study: StudyConfig, workers: int | None = None) -> dict[str, Any]:
    """The resolved pre-training config of every variant (validated before anything runs), of the
    study's task or of the variant's own (see the module docstring)."""
    loader = {"train": {"workers": workers}} if workers is not None else {}
    configs = {}
    for name, overrides in study.variants.items():
        overrides = dict(overrides)
        task = get_task(str(overrides.pop("task", study.task)))
        preset = str(overrides.pop("preset", study.pretrain.preset if task.name == study.task else "cpu-small"))
        base = task.preset(PRETRAIN, preset)
        shared = study.pretrain.set if task.name == study.task else {}
        configs[name] = resolve(base, expand(shared, type(base)), expand(overrides, type(base)), loader)
    return configs


def finetune_config(study: StudyConfig, workers: int | None = None, fold: dict[str, Any] | None = None):
    """The fine-tuning recipe, of one fold with that fold's overrides."""
    base = get_task(study.task).preset(FINETUNE, study.finetune.preset)
    data = {"data": {"dataset": study.data}} if study.data else {}
    loader = {"train": {"workers": workers}} if workers is not None else {}
    return resolve(base, expand(study.finetune.set, type(base)), expand(fold or {}, type(base)), data, loader)


def fold_configs(study: StudyConfig, workers: int | None = None) -> dict[str, Any]:
    """The fine-tuning recipe of each fold ({"": the recipe} for a study without folds)."""
    if not study.folds:
        return {"": finetune_config(study, workers)}
    return {name: finetune_config(study, workers, overrides) for name, overrides in study.folds.items()}


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
    ft_configs = fold_configs(study, workers)
    for config in ft_configs.values():
        task.check_finetune_data(config.data)  # a bad fine-tuning dataset fails now, not after the pre-training
    check_study_folders(study, out, pre_configs, ft_configs)
    names = list(pre_configs)
    results = run_all([Run(runner(get_task(study.variant_task(name)), PRETRAIN), pre_configs[name],
                           out / "pretrain" / name) for name in names], study.jobs)
    pretraining = {name: summarize_pretraining(pre_configs[name], result) for name, result in zip(names, results)}
    checkpoints = [str(out / "pretrain" / n / "last") for n in names]
    folds = {fold: compare(config, checkpoints, seeds=study.seeds, out=out / "compare" / fold, labels=names,
                           jobs=study.jobs, task=task) for fold, config in ft_configs.items()}
    comparison = folds[""] if "" in folds else mean_over_folds(folds, out / "compare")
    ft_config = next(iter(ft_configs.values()))
    rows = study_rows(comparison.groups, pretraining)
    if study.folds:
        described = "; ".join(f"fold {fold}: {config.data.describe()}" for fold, config in ft_configs.items())
        report = (format_study(rows, ft_config, comparison.labels[0], data=described, score="a seed's score is "
                               "the mean over the folds of its final-epoch")
                  + "\n\n" + format_folds(folds, comparison.labels[0]))
    else:
        report = format_study(rows, ft_config, comparison.labels[0])
    report += "\n\n" + write_ranking(study, rows, pre_configs, out, metric=comparison.labels[0])
    result = StudyResult(rows, comparison, report, folds={k: v for k, v in folds.items() if k})
    write_text_atomic(out / "study.md", result.report + "\n")
    write_text_atomic(out / "study.json", json.dumps(result.to_json(), indent=1))
    plot_scores({row.init: row.scores for row in rows}, out / "study.png", metric=comparison.labels[0],
                title=f"fine-tuned on {'/'.join(Path(ft_config.data.dataset).parts[-2:])}")
    write_page(out, out / "report.html", ft_config.data.dataset)
    return result


def write_ranking(study: StudyConfig, rows: list[StudyRow], pre_configs: dict[str, Any], out: Path, *,
                  metric: str) -> str:
    """ranking.md (the arms sorted, the noise, the cost; the papers' claims checked) and ranking.png;
    returns the Markdown."""
    from fdsl.experiments.ranking import NOISE_STD, claims_table, plot_ranking, ranking_table

    render = render_costs(pre_configs, out / "render-cost.json")
    parts = ["## Ranking", "", ranking_table(rows, metric=metric, render_ms=render), "",
             f"A difference counts from {NOISE_STD:g} pooled standard deviations; \"level with the best\": "
             "inside that noise of the top arm. Pre-training: the summed epoch times (shared cores) and the "
             "samples seen; render: one process making one sample of the arm's data, timed when the report "
             "was written ('-': read from files)."]
    if study.claims:
        parts += ["", "## The papers' claims, checked here", "", claims_table(study.claims, rows)]
    text = "\n".join(parts)
    write_text_atomic(out / "ranking.md", text + "\n")
    plot_ranking(rows, out / "ranking.png", metric=metric)
    return text


def render_costs(pre_configs: dict[str, Any], path: Path) -> dict[str, float | None]:
    """Each variant's render cost (:func:`fdsl.experiments.ranking.render_cost_ms`), timed once and kept
    in ``path``, so that a rerun of the study writes the same report."""
    from fdsl.experiments.ranking import render_cost_ms

    kept = json.loads(path.read_text()) if path.is_file() else {}
    costs = {name: kept[name] if name in kept else render_cost_ms(config) for name, config in pre_configs.items()}
    if costs != kept:
        write_text_atomic(path, json.dumps(costs, indent=1) + "\n")
    return costs


def mean_over_folds(folds: dict[str, Comparison], out: Path) -> Comparison:
    """One comparison whose run of each (init, seed) holds the mean over the folds of that seed's runs
    (scores, best scores, curves), saved in ``out`` as ``compare`` saves one."""
    from fdsl.experiments.compare import save_comparison

    first = next(iter(folds.values()))
    groups = []
    for g, group in enumerate(first.groups):
        runs = [mean_run([fold.groups[g].runs[r] for fold in folds.values()]) for r in range(len(group.runs))]
        groups.append(Group(group.init, group.checkpoint, runs))
    pooled = Comparison(out, groups, first.metrics)
    if is_primary():
        save_comparison(pooled, title=f"mean over {len(folds)} folds")
    return pooled


def mean_run(runs: list[RunScore]) -> RunScore:
    """The fold mean of one seed's runs (a value the folds do not all have is None)."""
    def mean(values):
        return None if any(v is None for v in values) else statistics.fmean(values)

    return RunScore(seed=runs[0].seed, score=mean([r.score for r in runs]), second=mean([r.second for r in runs]),
                    best=mean([r.best for r in runs]), curve=[mean(v) for v in zip(*(r.curve for r in runs))],
                    train_loss=[mean(v) for v in zip(*(r.train_loss for r in runs))])


def format_folds(folds: dict[str, Comparison], metric: str) -> str:
    """Each fold's final score per init (mean ± std over seeds), and the mean of the fold means ± their std."""
    first = next(iter(folds.values()))
    table = []
    for g, group in enumerate(first.groups):
        means = [statistics.fmean(fold.groups[g].scores) for fold in folds.values()]
        table.append([group.init, *(mean_std(fold.groups[g].scores) for fold in folds.values()),
                      f"{statistics.fmean(means):.2f} ± {sample_std(means):.2f}"])
    header = ["init", *(f"{name} {metric} (%)" for name in folds), "mean over folds ± std of the fold means"]
    return "\n".join([markdown_table(header, table), "", "per fold: mean ± std over seeds"])


def check_study_folders(study: StudyConfig, out: Path, pre_configs: dict[str, Any], ft_configs: dict[str, Any]) -> None:
    """Every run folder of the study (each fold's) can be written apart from its data, before the first run."""
    from fdsl.experiments.compare import SCRATCH, run_folder
    from fdsl.outputs import check_output, input_folders
    from fdsl.train.checkpoint import check_run_folder

    for config in (*ft_configs.values(), *pre_configs.values()):
        check_output(out, inputs=input_folders(config))
    for name, config in pre_configs.items():
        check_run_folder(out / "pretrain" / name, config)
    for fold, ft_config in ft_configs.items():
        for label in (SCRATCH, *pre_configs):
            for seed in study.seeds:
                check_run_folder(run_folder(out / "compare" / fold, label, seed), ft_config)


def summarize_pretraining(config, result) -> Pretraining:
    return Pretraining(minutes=sum(row.get("epoch_s") or 0.0 for row in result.history) / 60,
                       held_out=result.last.get(result.primary), epochs=len(result.history),
                       images=samples_seen(config.data, result.history), held_out_metric=result.primary[4:])


def samples_seen(data, history: list[dict[str, Any]]) -> int:
    """Training samples the run saw: each epoch shows ``instances_per_epoch`` (else all ``instances``) of
    every category ``repeats`` times; a run from ``data_dir`` (whose card, not the config, sets the
    counts) counts what its epochs timed (a single-process run's count)."""
    if data.data_dir is None:
        return data.categories * (data.instances_per_epoch or data.instances) * data.repeats * len(history)
    return round(sum((row.get("images_per_s") or 0.0) * (row.get("epoch_s") or 0.0) for row in history))


def format_study(rows: list[StudyRow], ft_config, metric: str = "top-1", *, data: str | None = None,
                 score: str = "final-epoch") -> str:
    """study.md: the table, then how the scores were measured (``data``: the fine-tuning data, by default
    the recipe's)."""
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
                      f"fine-tuning: {data or ft_config.data.describe()}, {ft_config.train.epochs} epochs, "
                      f"{len(rows[0].scores)} seeds; score: {score} {metric} on the validation split; "
                      "gap (std) = gap / pooled std of the two arms"])


def check_study_file(path: str | Path) -> StudyConfig:
    try:
        return load_study(path)
    except OSError as err:
        raise FdslError(f"cannot read study file {path}: {err.strerror}") from None
