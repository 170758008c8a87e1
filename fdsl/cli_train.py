"""CLI commands of the training pipeline (pretrain, finetune, evaluate, compare, models).

Each command resolves a typed config (preset, then ``--config`` YAML, then ``--set KEY=VALUE``,
then the named flags, then a family's options) and calls one library function of :mod:`fdsl.train`.
The flags are those the config dataclasses declare (:mod:`fdsl.cli_flags`). The same commands run
under ``torchrun`` (see :mod:`fdsl.train.distributed`); only rank 0 prints.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from fdsl.cli_flags import Option, add_options, declared_options, field_options, given, option_values
from fdsl.config_fields import BELONGS_TO, dependents, section_at, sections
from fdsl.errors import FdslError, check

DEFAULT_PRESET = "cpu-small"


def add_config_options(parser: argparse.ArgumentParser, presets: dict, config_cls: type, *,
                       exclude: tuple[str, ...] = ()) -> None:
    """--preset, --config, --set, --print-config, and the flags the fields of ``config_cls`` declare."""
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help=f"recipe: {', '.join(presets)} (default: {DEFAULT_PRESET})")
    parser.add_argument("--config", help="YAML file overriding the preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, e.g. --set optim.lr=0.01 (repeatable)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    group = parser.add_argument_group("config keys (over the preset, --config and --set)")
    parser.set_defaults(config_options=add_options(group, declared_options(config_cls, exclude=exclude)),
                        family_options=[])


def family_options_path(config_cls: type) -> tuple[str, ...]:
    """Where a family's options live in ``config_cls``: the free-form field of its formula data
    section that belongs to another (a pre-training config's ``data.formula``)."""
    from fdsl.data.config import FormulaDataConfig

    (section,) = [name for name, kind in sections(config_cls).items() if issubclass(kind, FormulaDataConfig)]
    (field,) = [field.name for field in dataclasses.fields(FormulaDataConfig) if BELONGS_TO in field.metadata]
    return section, field


def pretrain_family(argv: list[str]) -> str | None:
    """The family that ``fdsl pretrain ARGV`` trains on, to offer its options and pick its task: the
    family that the preset, --config, --set and --family resolve to, in the first task (by sample
    kind) that the family belongs to; None when the command line cannot say (the real parse then
    reports what is wrong)."""
    from fdsl.train.tasks import get_task, list_tasks, task_of_family

    for name in list_tasks():
        try:
            task = get_task(name)
            family = _resolved_family(task, argv)
            if family is not None and task_of_family(family) is task:
                return family
        except FdslError:
            continue
    return None


def _resolved_family(task, argv: list[str]) -> str | None:
    from fdsl.cli import OneLineParser
    from fdsl.train.config import from_dict, load_yaml, merged, parse_assignment

    parser = OneLineParser(add_help=False)
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    options = add_options(parser, declared_options(task.pretrain_config))
    known, _ = parser.parse_known_args(argv)
    layers = [load_yaml(known.config)] if known.config else []
    layers += [parse_assignment(text) for text in known.set] + [option_values(known, options)]
    return from_dict(task.pretrain_config, merged(task.pretrain_preset(known.preset), *layers)).data.family


def peek_task(argv: list[str]) -> str:
    """The value of ``--task`` on a command line (``finetune``, ``compare``), else the default."""
    from fdsl.train.tasks import DEFAULT_TASK

    for i, arg in enumerate(argv):
        if arg == "--task" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--task="):
            return arg.split("=", 1)[1]
    return DEFAULT_TASK


def add_family_config_options(parser: argparse.ArgumentParser, family: str | None, config_cls: type) -> None:
    """The options of ``family``'s config as flags (``--size``) that set the run's family options."""
    from fdsl.registry import formula_class, list_formulas

    if family is None or family not in list_formulas():
        return
    path = family_options_path(config_cls)
    group = parser.add_argument_group(f"{family} options ({'.'.join(path)}; unset: the preset's, else the papers')")
    parser.set_defaults(family_options=add_options(group, field_options(formula_class(family).Config, path),
                                                   fallback_prefix="formula-"))


def resolve_config(args: argparse.Namespace, preset: Callable[[str], Any]):
    """The preset, then --config, then each --set, then the named flags, then the family options (set
    one by one over the family options resolved so far). A flag that changes a key others belong to
    (--model, --family) drops the preset's values of those (its model kwargs, its family options)."""
    from fdsl.train.config import load_yaml, merged, nest, parse_assignment, resolve

    base = preset(args.preset)
    layers = [dropped_by_flags(base, args.config_options, args)]
    layers += [load_yaml(args.config)] if args.config else []
    layers += [parse_assignment(text) for text in args.set]
    layers.append(option_values(args, args.config_options))
    options = {option.name: value for option, value in given(args, args.family_options)}
    if options:
        path = args.family_options[0].path[:-1]
        layers.append(nest(list(path), {**lookup(merged(base, *layers), path), **options}))
    return resolve(base, *layers)


def dropped_by_flags(base: Any, options: list[Option], args: argparse.Namespace) -> dict[str, Any]:
    """A layer that empties the fields belonging to a flag's key whose value differs from the preset's."""
    from fdsl.train.config import to_dict

    layer: dict[str, Any] = {}
    for option, value in given(args, options):
        section = option.path[:-1]
        if value != lookup(to_dict(base), option.path):
            for name in dependents(section_at(type(base), list(section)), option.name):
                layer = deep_set(layer, section + (name,), {})
    return layer


def lookup(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        values = values.get(part, {}) if isinstance(values, dict) else {}
    return values


def deep_set(values: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = values
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return values


def _primary_print(text: str) -> None:
    from fdsl.train.distributed import is_primary

    if is_primary():
        print(text)


def _run_training(args, run: Callable[[], None]) -> None:
    from fdsl.train.distributed import cleanup, configure_logging

    configure_logging()
    try:
        run()
    finally:
        cleanup()


# --- commands ---------------------------------------------------------------------------------------
def cmd_pretrain(args) -> None:
    from fdsl.train.config import dump_yaml

    config = resolve_config(args, args.task.pretrain_preset)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        result = args.task.pretrain(config, args.out, resume=args.resume)
        _primary_print(f"pre-trained {config.model.name} for {len(result.history)} epochs: {_scores(result)}; "
                       f"weights: {args.out}/last")

    _run_training(args, run)


def cmd_finetune(args) -> None:
    from fdsl.train.config import dump_yaml

    config = resolve_config(args, args.task.finetune_preset)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        result = args.task.finetune(config, args.out, resume=args.resume)
        _primary_print(f"fine-tuned for {len(result.history)} epochs: {_scores(result)}; "
                       f"weights: {args.out}/best, {args.out}/last")

    _run_training(args, run)


def _scores(result) -> str:
    last, best = result.last, result.best
    if best is None:
        return f"final training loss {last['train_loss']:.4f}"
    from fdsl.train.tasks import metric_label

    scores = [(key, value) for key, value in last.items() if key.startswith("val_") and key != "val_loss"]
    return (f"final {' '.join(f'{metric_label(key)} {value:.2f}%' for key, value in scores)}, "
            f"best {metric_label(result.primary)} {best[result.primary]:.2f}% (epoch {int(best['epoch'])})")


def cmd_evaluate(args) -> None:
    from fdsl.train.config import from_dict
    from fdsl.train.tasks import metric_label

    task = args.task
    values = option_values(args, args.config_options)
    check("dataset" in values, "fdsl evaluate: the following arguments are required: --dataset")
    data = from_dict(task.evaluation_data, values)
    data.validate()

    def run():
        batch = {} if args.batch_size is None else {"batch_size": args.batch_size}
        scores = task.evaluate_weights(args.checkpoint, data, workers=args.workers, device=args.device, **batch)
        shown = " ".join(f"{metric_label(m)} {scores[m]:.2f}%" for m in task.objective.metrics)
        count = next(f"{scores[unit]} {unit}" for unit in ("images", "pixels", "samples") if unit in scores)
        _primary_print(f"{args.checkpoint}: {shown} loss {scores['loss']:.4f} on {count} of {data.dataset}")

    _run_training(args, run)


def cmd_compare(args) -> None:
    from fdsl.train.config import dump_yaml

    config = resolve_config(args, args.task.finetune_preset)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        from fdsl.experiments.compare import compare

        comparison = compare(config, args.checkpoint, seeds=args.seeds, out=args.out, labels=args.label,
                             jobs=args.jobs, task=args.task)
        _primary_print(comparison.table)
        _primary_print(f"curves: {args.out}/curves.png; per-run folders and results.json in {args.out}")

    _run_training(args, run)


def cmd_study(args) -> None:
    from fdsl.train.config import dump_yaml
    from fdsl.experiments.study import check_study_file, finetune_config, pretrain_configs, run_study

    study = check_study_file(args.study)
    if args.data:
        study.data = args.data
    if args.jobs is not None:
        check(args.jobs >= 1, f"--jobs {args.jobs}; allowed: >= 1")
        study.jobs = args.jobs
    pre, ft = pretrain_configs(study, args.workers), finetune_config(study, args.workers)
    if args.print_config:
        for name, config in pre.items():
            print(f"# pre-training: {name}\n{dump_yaml(config)}")
        print(f"# fine-tuning (seeds {study.seeds})\n{dump_yaml(ft)}", end="")
        return
    _run_training(args, lambda: _primary_print(run_study(study, args.out, workers=args.workers).report))


def cmd_models(args) -> None:
    import timm

    names = timm.list_models(args.pattern or "*", pretrained=args.pretrained)
    print("\n".join(names))


#: Keys that ``compare`` sets for each of its runs, so it offers no flag for them.
COMPARE_SETS = ("init", "new_head")


# --- parser -----------------------------------------------------------------------------------------
def _task_option(parser: argparse.ArgumentParser) -> None:
    from fdsl.train.tasks import DEFAULT_TASK, list_tasks

    # dest: ``args.task`` holds the Task object that set_defaults puts there, not this name
    parser.add_argument("--task", dest="task_name", default=DEFAULT_TASK, choices=list_tasks(),
                        help=f"what to learn: {', '.join(list_tasks())} (default: {DEFAULT_TASK}); the task "
                             "decides the presets and config keys below")


def add_train_commands(sub: argparse._SubParsersAction, family: str | None = None, task: str | None = None) -> None:
    """Add the training sub-commands to the ``fdsl`` parser. They offer the config of ``task``, the
    task of the command line being parsed (:func:`fdsl.cli.peek_task`: the family's for ``pretrain``,
    ``--task`` for ``finetune`` and ``compare``; classification otherwise), and ``pretrain`` the
    options of ``family`` (see :func:`pretrain_family`). Only that task's module is imported: the
    others may import torch, which every command would then pay for at start-up."""
    from fdsl.train.tasks import DEFAULT_TASK, get_task

    pre_task = ft_task = get_task(task or DEFAULT_TASK)
    p = sub.add_parser("pretrain", help="pre-train a model on a formula family (on the fly or from disk); the "
                                        "family's sample kind picks the task (images: classification, "
                                        "images+masks: segmentation, point clouds: points)")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    add_config_options(p, pre_task.pretrain_presets, pre_task.pretrain_config)
    add_family_config_options(p, family, pre_task.pretrain_config)
    p.set_defaults(run=cmd_pretrain, task=pre_task)

    p = sub.add_parser("finetune", help="fine-tune fdsl or timm weights (or scratch) on real data")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    _task_option(p)
    add_config_options(p, ft_task.finetune_presets, ft_task.finetune_config)
    p.set_defaults(run=cmd_finetune, task=ft_task)

    p = sub.add_parser("evaluate", help="score saved weights on a dataset's validation split: top-1/top-5, or "
                                        "mIoU (--task segmentation) or OA/mAcc (--task points)")
    p.add_argument("checkpoint", help="weights folder (model.safetensors + config.json), run folder or file")
    _task_option(p)
    group = p.add_argument_group("data (--dataset required; the split that fine-tuning validates on)")
    p.set_defaults(config_options=add_options(group, declared_options(ft_task.evaluation_data,
                                                                      exclude=ft_task.evaluation_unused)))
    p.add_argument("--batch-size", type=int, help="samples per batch (default: the task's, 256 images, 8 "
                                                   "segmentation scenes, 32 point clouds)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.set_defaults(run=cmd_evaluate, task=ft_task)

    p = sub.add_parser("compare", help="fine-tune from scratch and from checkpoints over seeds; table and plot")
    p.add_argument("-o", "--out", required=True, help="folder for the runs, results.md/json and curves.png")
    p.add_argument("--checkpoint", action="append", default=[], help="pre-trained weights (repeatable)")
    p.add_argument("--label", action="append", help="a name per --checkpoint (default: its run folder's name)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fine-tuning seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process (on a CPU: the "
                                                       "number of cores, with one torch thread per run)")
    _task_option(p)
    add_config_options(p, ft_task.finetune_presets, ft_task.finetune_config, exclude=COMPARE_SETS)
    p.set_defaults(run=cmd_compare, task=ft_task)

    p = sub.add_parser("study", help="a grid of pre-training variants against scratch: table and plot")
    p.add_argument("study", help="study YAML: seeds, finetune and pretrain recipes, variants (see studies/)")
    p.add_argument("-o", "--out", required=True, help="folder for every run, study.md/json and study.png")
    p.add_argument("--data", help="real images to fine-tune on (dataset name or ImageFolder path); "
                                  "default: the study's")
    p.add_argument("--workers", type=int, help="DataLoader workers per run (default: the recipes')")
    p.add_argument("--jobs", type=int, help="runs at a time, each in its own process (default: the study's)")
    p.add_argument("--print-config", action="store_true", help="print every resolved config and exit")
    p.set_defaults(run=cmd_study)

    p = sub.add_parser("models", help="list timm model names (the valid --model values)")
    p.add_argument("pattern", nargs="?", help="wildcard filter, e.g. 'vit_*'")
    p.add_argument("--pretrained", action="store_true", help="only models with timm pretrained weights")
    p.set_defaults(run=cmd_models)
