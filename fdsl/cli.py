"""The ``fdsl`` command: one sub-command per job, each a short function over library calls.

Family options (``--size``, ``--points``, ...) are generated from the chosen family's config
dataclass, so a new family needs no change here. Bad input ends with one line and exit status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from fdsl.cli_flags import add_options, field_options, option_values
from fdsl.errors import FdslError, check
from fdsl.registry import family_plugin, formula_class, get_formula, list_formulas

EXIT_USAGE = 2
FAMILY_COMMANDS = ("search", "render", "show")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line, exit 2."""

    def error(self, message: str):
        raise FdslError(f"{self.prog}: {message}")


# --- family options from the config dataclass -----------------------------------------------------
def add_family_options(parser: argparse.ArgumentParser, family: str | None) -> None:
    """The options of ``family``'s config dataclass (:mod:`fdsl.cli_flags`): ``--size``, ``--points`` ..."""
    parser.set_defaults(family_options=[])
    if family is None or family not in list_formulas():
        return
    group = parser.add_argument_group(f"{family} options (defaults from the papers)")
    parser.set_defaults(family_options=add_options(group, field_options(formula_class(family).Config),
                                                   fallback_prefix="formula-"))


def family_config(args: argparse.Namespace) -> dict:
    return option_values(args, args.family_options)


def formula_from_args(args: argparse.Namespace):
    return get_formula(args.family, **family_config(args))


#: The commands whose flags come from a training task's configs.
TRAINING_COMMANDS = ("pretrain", "finetune", "compare", "evaluate")


def peek(argv: list[str]) -> tuple[str | None, str | None]:
    """(family, task) of a command line, to offer their options (and their --help): the family named
    right after a family command; for a training command its task and, for ``pretrain``, the family it
    trains on (:func:`fdsl.cli_train.peek_training`)."""
    if len(argv) >= 2 and argv[0] in FAMILY_COMMANDS and not argv[1].startswith("-"):
        return argv[1], None
    if argv and argv[0] in TRAINING_COMMANDS:
        from fdsl.cli_train import peek_training

        return peek_training(argv[0], argv[1:])
    return None, None


# --- commands -------------------------------------------------------------------------------------
def categories_from_args(formula, args) -> list:
    """Categories from --param-dir (first --categories of them) or searched from --data-seed."""
    from fdsl.data.categories import load_or_search

    return load_or_search(formula, args.categories, param_dir=args.param_dir, seed=args.data_seed, workers=args.workers)


def cmd_list(args) -> None:
    for name in list_formulas():
        summary = ((formula_class(name).__doc__ or "").strip().splitlines() or [""])[0]  # a plugin's may be empty
        plugin = family_plugin(name)
        print(f"{name:14s} {summary}{f' [{plugin}]' if plugin else ''}")


def cmd_search(args) -> None:
    from fdsl.data.categories import search_categories
    from fdsl.data.writer import check_writable

    formula = formula_from_args(args)
    check_writable(Path(args.out))
    categories = search_categories(formula, args.categories, seed=args.data_seed, workers=args.workers)
    formula.write_categories(categories, Path(args.out))
    print(f"wrote {len(categories)} {formula.name} categories to {args.out}")


def cmd_render(args) -> None:
    from fdsl.data.cards import check_output_configuration
    from fdsl.data.writer import (Shard, check_format, check_instances, check_writable, render_configuration,
                                  render_dataset)

    formula = formula_from_args(args)
    shard = Shard.parse(args.shard) if args.shard else Shard.from_torchrun()
    check(args.workers >= 1, f"workers = {args.workers}; allowed: >= 1")
    check_instances(formula, args.instances)  # before a long category search, not after
    check_format(args.format, args.shard_size)
    check_writable(Path(args.out))
    check_output_configuration(Path(args.out), render_configuration(
        formula, seed=args.data_seed, categories=args.categories, instances=args.instances, data_format=args.format,
        shard_size=args.shard_size))
    categories = categories_from_args(formula, args)
    card = render_dataset(formula, categories, Path(args.out), seed=args.data_seed, instances=args.instances,
                          workers=args.workers, shard=shard,
                          category_source="search" if args.param_dir is None else str(args.param_dir),
                          data_format=args.format, shard_size=args.shard_size)
    print(f"wrote {card['samples']} {card['kind']} samples of {card['categories']} categories to {args.out}")


def cmd_card(args) -> None:
    from fdsl.data.cards import merge_cards

    card = merge_cards(Path(args.dir))
    print(f"merged the shard cards of {args.dir} into one card: {card['samples']} samples, {len(card['files'])} files")


def cmd_verify(args) -> int:
    from fdsl.data.cards import verify_dataset, version_warning

    checked, problems, unlisted = verify_dataset(Path(args.dir), progress=sys.stderr.isatty())
    warning = version_warning(Path(args.dir))
    if warning:
        print(f"fdsl: warning: {warning}", file=sys.stderr)
    for line in problems + [f"{name}: not listed in the dataset card" for name in unlisted]:
        print(line)
    print(f"{args.dir}: {checked - len(problems)} of {checked} files match the dataset card"
          + (f"; {len(problems)} missing or corrupt" if problems else "")
          + (f"; {len(unlisted)} file(s) it does not list" if unlisted else ""))
    return 1 if problems or unlisted else 0


def cmd_show(args) -> None:
    from fdsl.data.writer import check_writable
    from fdsl.viz.gallery import formula_gallery, save_png

    formula = formula_from_args(args)
    check(args.instances >= 1, f"instances = {args.instances}; allowed: >= 1")
    check(args.tile >= 8, f"tile = {args.tile}; allowed: >= 8")
    out = Path(args.out)
    check(not out.is_dir(), f"output {args.out!r} is a directory; allowed: a PNG file path")
    check_writable(out.parent)
    categories = categories_from_args(formula, args)
    limit = formula.instances_per_category or args.instances
    picks = sorted(set(np.linspace(0, limit - 1, min(args.instances, limit)).round().astype(int).tolist()))
    image = formula_gallery(formula, categories, seed=args.data_seed, instances=picks, tile=args.tile)
    save_png(image, Path(args.out))
    print(f"wrote {args.out} ({len(categories)} categories x {len(picks)} instances)")


def cmd_demo(args) -> None:
    from fdsl.experiments.demo import run_demo

    print(run_demo(Path(args.out), workers=args.workers, data=args.data, preset=args.preset).text)


class RenamedOption(argparse.Action):
    """``--seed`` of a data command: an error pointing at ``--data-seed`` (``--seed`` is the training
    seed of every command that trains)."""

    def __call__(self, parser, namespace, values, option_string=None):
        raise FdslError(f"{parser.prog}: --seed is the training seed of pretrain/finetune/compare; "
                        f"the seed the data derives from is --data-seed")


def cmd_analyze(args) -> None:
    from fdsl.analysis.analyze import analyze

    report = analyze(args.runs, args.out, labels=args.label, real_images=args.images, family=args.family,
                     count=args.count)
    print(f"wrote {len(report['figures'])} figures and analysis.json to {args.out}")
    for line in report["not_applicable"]:
        print(f"  not applicable: {line}")


def cmd_report(args) -> None:
    from fdsl.report import write_report

    kind = write_report(args.path, args.out, analyze_models=args.analyze, real_images=args.images)
    print(f"wrote {args.out} (a report of the {kind} in {args.path})")


# --- parser ---------------------------------------------------------------------------------------
def _common_family_args(p: argparse.ArgumentParser, family: str | None, *, categories: int, out_help: str) -> None:
    p.add_argument("family", choices=list_formulas(), help="formula family (see `fdsl list`)")
    p.add_argument("-o", "--out", required=True, help=out_help)
    p.add_argument("--categories", type=int, default=categories, help="number of categories")
    p.add_argument("--data-seed", type=int, default=0, metavar="SEED",
                   help="every sample is a pure function of (data seed, category, instance)")
    p.add_argument("--seed", action=RenamedOption, nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help="processes to use")
    add_family_options(p, family)


def build_parser(family: str | None = None, task: str | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(prog="fdsl", description=__doc__.splitlines()[0])
    from fdsl import __version__

    parser.add_argument("--version", action="version", version=f"fdsl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("list", help="list the formula families").set_defaults(run=cmd_list)
    add_data_commands(sub, family)
    add_story_commands(sub)

    from fdsl.cli_train import add_train_commands

    add_train_commands(sub, family, task)
    return parser


def add_data_commands(sub: argparse._SubParsersAction, family: str | None) -> None:
    """search, render, card, verify, show: the commands that make or check formula data."""
    p = sub.add_parser("search", help="search categories (FractalDB: filling-rate acceptance)")
    _common_family_args(p, family, categories=1000, out_help="directory for the parameter files")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser("render", help="render a dataset: a folder per category (images: an ImageFolder of PNGs)")
    _common_family_args(p, family, categories=1000, out_help="dataset directory")
    p.add_argument("--instances", type=int, default=1000, help="samples per category")
    p.add_argument("--param-dir", help="read categories from this directory (e.g. the official CSVs)")
    p.add_argument("--shard", help="render shard i/N only (default under torchrun: RANK/WORLD_SIZE)")
    p.add_argument("--format", choices=("folder", "wds"), default="folder",
                   help="folder: a folder per category; wds: WebDataset tar shards in OUT/shards")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per tar (--format wds)")
    p.set_defaults(run=cmd_render)

    p = sub.add_parser("card", help="merge the cards of a render made in shards (--shard i/N) into one")
    p.add_argument("action", choices=("merge",), help="merge: dataset_card.shard-*-of-N.json -> dataset_card.json")
    p.add_argument("dir", help="dataset directory")
    p.set_defaults(run=cmd_card)

    p = sub.add_parser("verify", help="check every file of a rendered dataset against its card (exit 1 if any fails)")
    p.add_argument("dir", help="dataset directory")
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("show", help="write a PNG grid of sample categories and instances")
    _common_family_args(p, family, categories=8, out_help="PNG file to write")
    p.add_argument("--instances", type=int, default=6, help="instances per category (spread over all)")
    p.add_argument("--param-dir", help="read categories from this directory")
    p.add_argument("--tile", type=int, default=128, help="tile size in pixels")
    p.set_defaults(run=cmd_show)


def add_story_commands(sub: argparse._SubParsersAction) -> None:
    """demo, analyze, report: the commands that tell what pre-training did."""
    p = sub.add_parser("demo", help="the README's main job: pre-train on FractalDB, fine-tune, compare with scratch")
    p.add_argument("-o", "--out", default="fdsl-demo", help="output directory")
    p.add_argument("--data", help="real images: cifar10, cifar100 or an ImageFolder path "
                                  "(default: ../shared/data/cifar10/train if present, else cifar10)")
    p.add_argument("--workers", type=int, help="loader worker processes (default: the presets' value)")
    p.add_argument("--preset", help="pre-training preset (default: the demo recipe's, cpu-small; "
                                    "cpu-small-perlin: the transfer study's winner)")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("analyze", help="filters, attention maps, attention distance, position embeddings of models")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="run folder, weights folder or .safetensors, local-dir:FOLDER, or a timm model name "
                        "with pretrained weights in the local cache")
    p.add_argument("-o", "--out", required=True, help="folder for the PNGs and analysis.json")
    p.add_argument("--label", action="append", help="a name per RUN (default: its folder's name)")
    p.add_argument("--images", help="real images: an ImageFolder (e.g. ../shared/data/cifar10/train)")
    p.add_argument("--family", help="formula family of the formula images (default: the first run's "
                                    "pre-training family, else fractaldb)")
    p.add_argument("--count", type=int, default=4, help="images of each kind")
    p.set_defaults(run=cmd_analyze)

    p = sub.add_parser("report", help="one static HTML page for a run, a comparison or a study folder")
    p.add_argument("path", help="a run folder, compare's folder (results.json) or a study's (study.json)")
    p.add_argument("-o", "--out", required=True, help="the HTML file to write (its images go beside it)")
    p.add_argument("--analyze", action="store_true", help="run `fdsl analyze` on the pre-trained models first")
    p.add_argument("--images", help="real images for the analysis (an ImageFolder)")
    p.set_defaults(run=cmd_report)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away


def error_line(error: FdslError) -> str:
    """The error's message on one line. A DataLoader worker's error is re-raised in the main process
    as ``FdslError("Caught FdslError in DataLoader worker process N.\nOriginal Traceback ...")``,
    whose last line is ``fdsl.errors.FdslError: <the message>``."""
    text = str(error)
    if "\nOriginal Traceback" in text:
        text = text.rstrip().splitlines()[-1].split(": ", 1)[-1]
    return text


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without a file
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def interrupted_message(error: KeyboardInterrupt, args: argparse.Namespace | None) -> str:
    """What Ctrl-C leaves and how to go on. A run says what its folder keeps
    (:class:`fdsl.train.run_folder.RunInterrupted`); pretrain and finetune continue a kept run only
    with --resume, the other commands resume when run again."""
    if getattr(error, "epochs_kept", None) is None:
        return "interrupted; run the same command again to resume"
    if error.epochs_kept and getattr(args, "resume", None) is False:
        return f"interrupted: {error}; add --resume to the same command to continue"
    return f"interrupted: {error}; run the same command again to continue"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = None
    try:
        args = build_parser(*peek(argv)).parse_args(argv)
        status = args.run(args) or 0
        sys.stdout.flush()  # here, so that a closed pipe is reported below and not at exit
    except FdslError as error:
        print(f"fdsl: error: {error_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `fdsl models | head`: the reader has all it wants
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:  # a full disk: fdsl.atomic names the file it was writing
        from fdsl.atomic import NO_SPACE, no_space_message

        if error.errno not in NO_SPACE:
            raise
        print(f"fdsl: error: {no_space_message(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as error:
        print(f"fdsl: {interrupted_message(error, args)}", file=sys.stderr)
        return 130
    return status
