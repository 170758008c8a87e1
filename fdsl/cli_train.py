"""CLI commands of the training pipeline (pretrain, finetune, evaluate, compare, models).

The task of a command line is resolved once (:func:`peek_training`); pretrain, finetune and compare
are one template (:func:`training_command`): each resolves a typed config of the task (preset, then
``--config`` YAML, then ``--set KEY=VALUE``, then the named flags, then a family's options) and calls
the shared run (:mod:`fdsl.train.run`) or the comparison.
The flags are those the config dataclasses declare (:mod:`fdsl.cli_flags`). The same commands run
under ``torchrun`` (see :mod:`fdsl.train.distributed`); only rank 0 prints.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
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


def option_value(argv: list[str], flag: str) -> str | None:
    """The last value of ``flag`` on a command line (``--flag VALUE`` or ``--flag=VALUE``)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(flag + "="):
            found = arg.split("=", 1)[1]
    return found


def peek_training(command: str, argv: list[str]) -> tuple[str | None, str]:
    """(family, task) of a training command line, resolved once to offer their options: ``--task``,
    else for ``pretrain`` the task of the family it trains on (by its sample kind) or of its preset;
    the default task otherwise. The family is what the preset, ``--config``, ``--set`` and
    ``--family`` resolve to (None when the command line cannot say: the real parse reports why)."""
    from fdsl.tasks import DEFAULT_TASK, get_task

    task = option_value(argv, "--task")
    if command != "pretrain":
        return None, task or DEFAULT_TASK
    try:
        task = task or pretrain_task(argv)
        return _resolved_family(get_task(task), argv), task
    except FdslError:
        return None, task or DEFAULT_TASK


def pretrain_task(argv: list[str]) -> str:
    """The task of a pre-training without ``--task``: the named family's, else the default task's if
    it has the preset, else the first task's that has it."""
    from fdsl.tasks import DEFAULT_TASK, PRETRAIN, get_task, list_tasks, task_of_family

    family = _named_family(argv)
    if family is not None:
        return task_of_family(family).name
    preset = option_value(argv, "--preset") or DEFAULT_PRESET
    owners = [name for name in list_tasks() if preset in get_task(name).presets(PRETRAIN)]
    return DEFAULT_TASK if DEFAULT_TASK in owners or not owners else owners[0]


def _named_family(argv: list[str]) -> str | None:
    """The family a command line names: ``--family``, else ``--set data.family=``, else ``--config``'s."""
    from fdsl.configs import load_yaml, parse_assignment

    family = option_value(argv, "--family")
    sets = [parse_assignment(v).get("data", {}) for i, v in enumerate(argv[1:]) if argv[i] == "--set"]
    sets += [parse_assignment(a.split("=", 1)[1]).get("data", {}) for a in argv if a.startswith("--set=")]
    from_sets = [data["family"] for data in sets if isinstance(data, dict) and "family" in data]
    config = option_value(argv, "--config")
    from_config = (load_yaml(config).get("data") or {}).get("family") if config else None
    return family or (from_sets[-1] if from_sets else None) or from_config


def _resolved_family(task, argv: list[str]) -> str | None:
    from fdsl.cli import OneLineParser
    from fdsl.configs import from_dict, load_yaml, merged, parse_assignment
    from fdsl.tasks import PRETRAIN

    parser = OneLineParser(add_help=False)
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    options = add_options(parser, declared_options(task.pretrain_config))
    known, _ = parser.parse_known_args(argv)
    layers = [load_yaml(known.config)] if known.config else []
    layers += [parse_assignment(text) for text in known.set] + [option_values(known, options)]
    return from_dict(task.pretrain_config, merged(task.preset(PRETRAIN, known.preset), *layers)).data.family


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
    from fdsl.configs import load_yaml, merged, nest, parse_assignment, resolve

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
    from fdsl.configs import to_dict

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
def training_command(action: Callable[[argparse.Namespace, Any], None]) -> Callable[[argparse.Namespace], None]:
    """The command of pretrain, finetune and compare: resolve the config of ``args.phase`` of
    ``args.task`` (or print it with --print-config), then ``action(args, config)`` as a training."""
    from fdsl.configs import dump_yaml

    def command(args: argparse.Namespace) -> None:
        config = resolve_config(args, functools.partial(args.task.preset, args.phase))
        if args.print_config:
            print(dump_yaml(config), end="")
            return
        _run_training(args, lambda: action(args, config))

    return command


def train(args: argparse.Namespace, config: Any) -> None:
    from fdsl.tasks import PRETRAIN
    from fdsl.train.run import run

    result = run(args.task, args.phase, config, args.out, resume=args.resume)
    did = f"pre-trained {getattr(config.model, 'name', '')}".rstrip() if args.phase == PRETRAIN else "fine-tuned"
    weights = f"{args.out}/last" if args.phase == PRETRAIN else f"{args.out}/best, {args.out}/last"
    _primary_print(f"{did} for {len(result.history)} epochs: {_scores(result)}; weights: {weights}")


def compare_checkpoints(args: argparse.Namespace, config: Any) -> None:
    from fdsl.experiments.compare import compare

    comparison = compare(config, args.checkpoint, seeds=args.seeds, out=args.out, labels=args.label,
                         jobs=args.jobs, task=args.task)
    _primary_print(comparison.table)
    _primary_print(f"curves: {args.out}/curves.png; per-run folders and results.json in {args.out}")


def _scores(result) -> str:
    last, best = result.last, result.best
    if best is None:
        return f"final training loss {last['train_loss']:.4f}"
    from fdsl.tasks import metric_label

    scores = [(key, value) for key, value in last.items() if key.startswith("val_") and key != "val_loss"]
    return (f"final {' '.join(f'{metric_label(key)} {value:.2f}%' for key, value in scores)}, "
            f"best {metric_label(result.primary)} {best[result.primary]:.2f}% (epoch {int(best['epoch'])})")


def cmd_evaluate(args) -> None:
    from fdsl.configs import from_dict
    from fdsl.tasks import metric_label
    from fdsl.train.run import evaluate_weights

    task = args.task
    values = option_values(args, args.config_options)
    check("dataset" in values, "fdsl evaluate: the following arguments are required: --dataset")
    data = from_dict(task.evaluation_data, values)
    data.validate()

    def run():
        scores = evaluate_weights(task, args.checkpoint, data, batch_size=args.batch_size, workers=args.workers,
                                  device=args.device)
        shown = " ".join(f"{metric_label(m)} {scores[m]:.2f}%" for m in task.metrics)
        _primary_print(f"{args.checkpoint}: {shown} loss {scores['loss']:.4f} on {scores[task.unit]} {task.unit} "
                       f"of {data.dataset}")

    _run_training(args, run)


def cmd_study(args) -> None:
    from fdsl.configs import dump_yaml
    from fdsl.experiments.study import check_study_file, fold_configs, pretrain_configs, run_study

    study = check_study_file(args.study)
    if args.data:
        study.data = args.data
    if args.jobs is not None:
        check(args.jobs >= 1, f"--jobs {args.jobs}; allowed: >= 1")
        study.jobs = args.jobs
    pre, folds = pretrain_configs(study, args.workers), fold_configs(study, args.workers)
    if args.print_config:
        for name, config in pre.items():
            print(f"# pre-training: {name}\n{dump_yaml(config)}")
        for fold, config in folds.items():
            print(f"# fine-tuning{f' of fold {fold}' if fold else ''} (seeds {study.seeds})\n{dump_yaml(config)}", end="")
        return
    _run_training(args, lambda: _primary_print(run_study(study, args.out, workers=args.workers).report))


def cmd_models(args) -> None:
    import timm

    names = timm.list_models(args.pattern or "*", pretrained=args.pretrained)
    print("\n".join(names))


#: Keys that ``compare`` sets for each of its runs, so it offers no flag for them.
COMPARE_SETS = ("init", "new_head")


# --- parser -----------------------------------------------------------------------------------------
def _task_option(parser: argparse.ArgumentParser, default: str) -> None:
    from fdsl.tasks import list_tasks

    # dest: ``args.task`` holds the Task object that set_defaults puts there, not this name
    parser.add_argument("--task", dest="task_name", default=default, choices=list_tasks(),
                        help=f"what to learn: {', '.join(list_tasks())} (default: {default}); the task decides "
                             "the presets and config keys below")


def add_training_parser(sub: argparse._SubParsersAction, name: str, phase: str, task, action, help: str, *,
                        exclude: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """pretrain, finetune and compare: the same options over the config of ``phase`` of ``task``."""
    from fdsl.tasks import DEFAULT_TASK

    p = sub.add_parser(name, help=help)
    p.add_argument("-o", "--out", required=True, help="run folder" if action is train else
                   "folder for the runs, results.md/json and curves.png")
    if action is train:
        p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    _task_option(p, "the family's, by its sample kind" if name == "pretrain" else DEFAULT_TASK)
    add_config_options(p, task.presets(phase), task.config_class(phase), exclude=exclude)
    p.set_defaults(run=training_command(action), task=task, phase=phase)
    return p


def add_train_commands(sub: argparse._SubParsersAction, family: str | None = None, task: str | None = None) -> None:
    """Add the training sub-commands to the ``fdsl`` parser. They offer the config of ``task``, the
    task of the command line being parsed (:func:`peek_training`), and ``pretrain`` the options of
    ``family``. Only that task's package is imported, which imports no torch until it trains."""
    from fdsl.tasks import DEFAULT_TASK, FINETUNE, PRETRAIN, get_task

    task = get_task(task or DEFAULT_TASK)
    p = add_training_parser(sub, "pretrain", PRETRAIN, task, train,
                            "pre-train a model on a formula family (on the fly or from disk); the family's sample kind "
                            "picks the task (images: classification, images+masks: segmentation, point clouds: points, "
                            "images+instances: detection, clips: video)")
    add_family_config_options(p, family, task.pretrain_config)
    add_training_parser(sub, "finetune", FINETUNE, task, train, "fine-tune fdsl or timm weights (or scratch) on real data")
    p = add_training_parser(sub, "compare", FINETUNE, task, compare_checkpoints,
                            "fine-tune from scratch and from checkpoints over seeds; table and plot", exclude=COMPARE_SETS)
    p.add_argument("--checkpoint", action="append", default=[], help="pre-trained weights (repeatable)")
    p.add_argument("--label", action="append", help="a name per --checkpoint (default: its run folder's name)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fine-tuning seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process (on a CPU: the "
                                                       "number of cores, with one torch thread per run)")

    p = sub.add_parser("evaluate", help="score saved weights on a dataset's validation split: the task's scores "
                                        "(top-1/top-5, mIoU with --task segmentation, OA/mAcc with --task points, "
                                        "box/mask AP with --task detection, top-1/mean class accuracy with --task video)")
    p.add_argument("checkpoint", help="weights folder (model.safetensors + config.json), run folder or file")
    _task_option(p, DEFAULT_TASK)
    group = p.add_argument_group("data (--dataset required; the split that fine-tuning validates on)")
    p.set_defaults(config_options=add_options(group, declared_options(task.evaluation_data,
                                                                      exclude=task.evaluation_unused)))
    p.add_argument("--batch-size", type=int, help=f"samples per batch (default: the task's, {task.eval_batch_size})")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.set_defaults(run=cmd_evaluate, task=task)

    p = sub.add_parser("study", help="a grid of pre-training variants against scratch: table and plot")
    p.add_argument("study", help="study YAML: seeds, finetune and pretrain recipes, variants (see studies/)")
    p.add_argument("-o", "--out", required=True, help="folder for every run, study.md/json and study.png")
    p.add_argument("--data", help="real data to fine-tune on (a dataset name or a folder); default: the study's")
    p.add_argument("--workers", type=int, help="DataLoader workers per run (default: the recipes')")
    p.add_argument("--jobs", type=int, help="runs at a time, each in its own process (default: the study's)")
    p.add_argument("--print-config", action="store_true", help="print every resolved config and exit")
    p.set_defaults(run=cmd_study)

    p = sub.add_parser("models", help="list timm model names (the valid --model values)")
    p.add_argument("pattern", nargs="?", help="wildcard filter, e.g. 'vit_*'")
    p.add_argument("--pretrained", action="store_true", help="only models with timm pretrained weights")
    p.set_defaults(run=cmd_models)
