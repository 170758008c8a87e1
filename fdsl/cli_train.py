"""CLI commands of the training pipeline (pretrain, finetune, evaluate, compare, models).

Each command resolves a typed config (preset, then ``--config`` YAML, then ``--set KEY=VALUE``,
then the named flags) and calls one library function of :mod:`fdsl.train`. The same commands run
under ``torchrun`` (see :mod:`fdsl.train.distributed`); only rank 0 prints.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fdsl.errors import check

#: (flag, config key, type, help) shared by pretrain, finetune and compare.
COMMON_FLAGS = (
    ("--model", "model.name", str, "timm model name (`fdsl models` lists them)"),
    ("--epochs", "train.epochs", int, "training epochs"),
    ("--batch-size", "train.batch_size", int, "images per step and process"),
    ("--lr", "optim.lr", float, "learning rate (scaled by the global batch when optim.lr_base_batch is set)"),
    ("--workers", "train.workers", int, "DataLoader worker processes per training process"),
    ("--device", "train.device", str, "auto, cpu, cuda, cuda:N or mps"),
    ("--seed", "train.seed", int, "seed of initialisation, order and augmentation"),
)
PRETRAIN_FLAGS = (
    ("--family", "data.family", str, "formula family (`fdsl list`)"),
    ("--categories", "data.categories", int, "number of categories (classes)"),
    ("--instances", "data.instances", int, "training instances per category"),
    ("--val-instances", "data.val_instances", int, "held-out instances per category (0: no validation)"),
    ("--param-dir", "data.param_dir", str, "read categories from this directory instead of searching"),
    ("--data-dir", "data.data_dir", str, "train on this rendered folder instead of on the fly"),
)
FINETUNE_DATA_FLAGS = (
    ("--dataset", "data.dataset", str, "cifar10, cifar100, or an ImageFolder path"),
    ("--data-root", "data.root", str, "where named datasets are stored and downloaded"),
    ("--val", "data.val", str, "validation split: 'test' (named datasets) or an ImageFolder path; "
                               "default: hold out part of each class"),
    ("--holdout", "data.holdout", float, "fraction of each class held out for validation"),
    ("--train-per-class", "data.train_per_class", int, "use only the first N training images per class"),
    ("--val-per-class", "data.val_per_class", int, "score only the first N validation images per class"),
)
Flags = tuple[tuple[str, str, type, str], ...]


def add_config_options(parser: argparse.ArgumentParser, presets: dict, default: str, flags: Flags) -> None:
    parser.add_argument("--preset", default=default, help=f"recipe: {', '.join(presets)} (default: {default})")
    parser.add_argument("--config", help="YAML file overriding the preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, e.g. --set optim.lr=0.01 (repeatable)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    for flag, key, kind, text in flags:
        parser.add_argument(flag, dest=_dest(key), type=kind, default=None, help=text)


def _dest(key: str) -> str:
    return "cfg__" + key.replace(".", "__")


def resolve_config(args: argparse.Namespace, preset: Callable[[str], Any], extra: dict[str, Any] | None = None):
    """The preset, then --config, then each --set, then the named flags (and ``extra``). A --model
    other than the preset's drops the preset's model kwargs (set them with --set model.kwargs=...)."""
    from fdsl.train.config import load_yaml, merge, nest, parse_assignment, resolve

    base = preset(args.preset)
    layers = []
    if args.cfg__model__name not in (None, base.model.name):
        layers.append({"model": {"kwargs": {}}})  # the preset's model options fit the preset's model only
    layers += [load_yaml(args.config)] if args.config else []
    layers += [parse_assignment(text) for text in args.set]
    flags: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name.startswith("cfg__") and value is not None:
            flags = merge(flags, nest(name[len("cfg__"):].split("__"), value))
    return resolve(base, *layers, flags, extra or {})


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
    from fdsl.train.presets import pretrain_preset

    config = resolve_config(args, pretrain_preset)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        from fdsl.train.pretrain import pretrain

        result = pretrain(config, args.out, resume=args.resume)
        _primary_print(f"pre-trained {config.model.name} for {len(result.history)} epochs: {_scores(result)}; "
                       f"weights: {args.out}/last")

    _run_training(args, run)


def cmd_finetune(args) -> None:
    from fdsl.train.config import dump_yaml
    from fdsl.train.presets import finetune_preset

    config = resolve_config(args, finetune_preset, {"new_head": True} if args.new_head else None)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        from fdsl.train.finetune import finetune

        result = finetune(config, args.out, resume=args.resume)
        _primary_print(f"fine-tuned for {len(result.history)} epochs: {_scores(result)}; "
                       f"weights: {args.out}/best, {args.out}/last")

    _run_training(args, run)


def _scores(result) -> str:
    last, best = result.last, result.best
    if best is None:
        return f"final training loss {last['train_loss']:.4f}"
    return (f"final top-1 {last['val_top1']:.2f}% top-5 {last['val_top5']:.2f}%, "
            f"best top-1 {best['val_top1']:.2f}% (epoch {int(best['epoch'])})")


def cmd_evaluate(args) -> None:
    from fdsl.data.config import RealDataConfig

    data = RealDataConfig(dataset=args.dataset, root=args.data_root, val=args.val, holdout=args.holdout,
                          val_per_class=args.val_per_class)

    def run():
        from fdsl.train.finetune import evaluate_checkpoint

        scores = evaluate_checkpoint(args.checkpoint, data, batch_size=args.batch_size, workers=args.workers,
                                     device=args.device)
        _primary_print(f"{args.checkpoint}: top-1 {scores['top1']:.2f}% top-5 {scores['top5']:.2f}% "
                       f"loss {scores['loss']:.4f} on {scores['images']} images of {args.dataset}")

    _run_training(args, run)


def cmd_compare(args) -> None:
    from fdsl.train.config import dump_yaml
    from fdsl.train.presets import finetune_preset

    config = resolve_config(args, finetune_preset)
    if args.print_config:
        print(dump_yaml(config), end="")
        return

    def run():
        from fdsl.train.compare import compare

        comparison = compare(config, args.checkpoint, seeds=args.seeds, out=args.out, labels=args.label,
                             jobs=args.jobs)
        _primary_print(comparison.table)
        _primary_print(f"curves: {args.out}/curves.png; per-run folders and results.json in {args.out}")

    _run_training(args, run)


def cmd_study(args) -> None:
    from fdsl.train.config import dump_yaml
    from fdsl.train.study import check_study_file, finetune_config, pretrain_configs, run_study

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
    _run_training(args, lambda: _primary_print(run_study(study, args.out, workers=args.workers)))


def cmd_models(args) -> None:
    import timm

    names = timm.list_models(args.pattern or "*", pretrained=args.pretrained)
    print("\n".join(names))


# --- parser -----------------------------------------------------------------------------------------
def add_train_commands(sub: argparse._SubParsersAction) -> None:
    """Add the training sub-commands to the ``fdsl`` parser."""
    from fdsl.train.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

    p = sub.add_parser("pretrain", help="pre-train a timm model on a formula family (on the fly or from disk)")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    add_config_options(p, PRETRAIN_PRESETS, "cpu-small", COMMON_FLAGS + PRETRAIN_FLAGS)
    p.set_defaults(run=cmd_pretrain)

    p = sub.add_parser("finetune", help="fine-tune fdsl or timm weights (or scratch) on real images")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--init", dest="cfg__init", default=None,
                   help="fdsl weights (run folder, weights folder or .safetensors), 'timm' for timm's "
                        "pretrained weights of --model; default: from scratch")
    p.add_argument("--new-head", action="store_true", help="a new classifier for the dataset's classes")
    p.add_argument("--freeze", dest="cfg__freeze", type=int, default=None, metavar="K",
                   help="freeze the stem and the first K stages (ViT: patch/position embedding + K blocks; "
                        "ResNet: stem + layer1..K)")
    p.add_argument("--linear-probe", dest="cfg__linear_probe", action="store_const", const=True, default=None,
                   help="train only the classifier (everything else frozen)")
    add_config_options(p, FINETUNE_PRESETS, "cpu-small", COMMON_FLAGS + FINETUNE_DATA_FLAGS)
    p.set_defaults(run=cmd_finetune)

    p = sub.add_parser("evaluate", help="top-1/top-5 accuracy of a checkpoint on a dataset")
    p.add_argument("checkpoint", help="weights folder (model.safetensors + config.json), run folder or file")
    p.add_argument("--dataset", required=True, help="cifar10, cifar100, or an ImageFolder path")
    p.add_argument("--data-root", default="data", help="where named datasets are stored and downloaded")
    p.add_argument("--val", help="'test' (official test split) or an ImageFolder path; default: the held-out "
                                 "part of each class, as in fine-tuning")
    p.add_argument("--holdout", type=float, default=0.1, help="held-out fraction per class (0: every image)")
    p.add_argument("--val-per-class", type=int, help="score only the first N images per class")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("compare", help="fine-tune from scratch and from checkpoints over seeds; table and plot")
    p.add_argument("-o", "--out", required=True, help="folder for the runs, results.md/json and curves.png")
    p.add_argument("--checkpoint", action="append", default=[], help="pre-trained weights (repeatable)")
    p.add_argument("--label", action="append", help="a name per --checkpoint (default: its run folder's name)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fine-tuning seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process (on a CPU: the "
                                                       "number of cores, with one torch thread per run)")
    add_config_options(p, FINETUNE_PRESETS, "cpu-small", COMMON_FLAGS + FINETUNE_DATA_FLAGS)
    p.set_defaults(run=cmd_compare)

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
