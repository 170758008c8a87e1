"""One run for every task and phase, and scoring saved weights: the only code that turns a config into
a trained run folder, whatever the task (:mod:`fdsl.tasks`).

A run checks its config, joins torchrun's ranks when there are any, resolves the fine-tuning init
weights (whose architecture may replace the config's), checks the run folder (new, or resumed from
``state.pt``), builds and checks its data, seeds and builds the model, and fits it. Nothing is
written before training starts, so bad input found on the way leaves no run folder behind.

Alone or under torchrun (every rank runs this; only rank 0 writes)::

    torchrun --nproc_per_node 8 -m fdsl pretrain --preset fractaldb-deit-tiny -o runs/deit
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fdsl
from fdsl.configs import to_dict
from fdsl.errors import FdslError, check
from fdsl.tasks import FINETUNE, PHASES, PRETRAIN, Task, check_weights_task, get_task, list_tasks, run_meta
from fdsl.train import checkpoint, distributed
from fdsl.train.config import TrainConfig
from fdsl.train.trainer import FitResult, fit, seed_init


def run(task: Task | str, phase: str, config: Any, out: str | Path, *, resume: bool = False) -> FitResult:
    """Pre-train or fine-tune (``phase``) ``config.model`` of ``task`` (a task or its name: a spawned
    child finds plugin tasks by name) on ``config.data``; the run folder ``out`` receives config.yaml,
    metrics.csv, last/ and best/ weights and state.pt for ``--resume``."""
    task = get_task(task) if isinstance(task, str) else task
    check(phase in PHASES, f"phase {phase!r}; valid: {', '.join(PHASES)}")
    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    config, weights = task.resolve_init(config) if phase == FINETUNE else (config, None)
    task.check_model(config)  # before data that can take minutes (a category search)
    state = checkpoint.prepare_run(out, config, resume=resume, task=task.name, phase=phase)  # writes nothing
    data = task.datasets(config, phase, progress=context.is_primary and sys.stderr.isatty())
    seed_init(config.train.seed)  # the same initial weights (or new head) for a given seed
    model = task.build_model(config, data.label_names, weights)
    meta = {"task": task.name, "phase": phase, "fdsl_version": fdsl.__version__, "config": to_dict(config)}
    if phase == PRETRAIN:
        meta["data"] = to_dict(config.data)
    else:  # what the starting weights were pre-trained on, for the model card's data and licence
        meta.update(init=config.init, dataset=config.data.dataset,
                    init_data=run_meta(weights.config).get("data") if weights is not None else None)
    return fit(task, model, data, config=config, out=out, context=context, state=state, meta=meta)


def task_of_config(config: Any) -> tuple[Task, str]:
    """The task and phase whose config class ``config`` is an instance of."""
    for name in list_tasks():
        task = get_task(name)
        for phase in PHASES:
            if type(config) is task.config_class(phase):
                return task, phase
    raise FdslError(f"{type(config).__name__} is the config of no registered task's phase")


def pretrain(config: Any, out: str | Path, *, resume: bool = False) -> FitResult:
    """:func:`run` of the task whose pre-training config ``config`` is (library use:
    ``pretrain(PretrainConfig(...), "runs/x")``)."""
    return run_config(PRETRAIN, config, out, resume=resume)


def finetune(config: Any, out: str | Path, *, resume: bool = False) -> FitResult:
    """:func:`run` of the task whose fine-tuning config ``config`` is."""
    return run_config(FINETUNE, config, out, resume=resume)


def run_config(phase: str, config: Any, out: str | Path, *, resume: bool = False) -> FitResult:
    task, found = task_of_config(config)
    check(found == phase, f"{type(config).__name__} is a {found} config, not a {phase} one")
    return run(task, phase, config, out, resume=resume)


def runner(task: Task, phase: str) -> Callable[..., FitResult]:
    """``runner(task, phase)(config, out, resume=...)``: a run of ``phase`` that pickles by the task's
    name (what :class:`fdsl.experiments.jobs.Run` hands to a spawned child)."""
    return functools.partial(run, task.name, phase)


def evaluate_weights(task: Task, path: str | Path, data: Any, *, batch_size: int | None = None, workers: int = 2,
                     device: str = "auto") -> dict[str, float]:
    """The scores of saved weights of ``task`` on the split of ``data`` that fine-tuning validates on,
    prepared as the run prepared it: the loss, each of the task's metrics, and the count of ``task.unit``."""
    from fdsl.train.checkpoint import load_weights
    from fdsl.train.loaders import evaluation_loader

    batch_size = task.eval_batch_size if batch_size is None else batch_size
    check(batch_size >= 1, f"batch size = {batch_size}; allowed: >= 1")
    data.validate()
    context = distributed.setup(device)
    weights = load_weights(path)
    check_weights_task(weights, task.name)
    model = task.load_model(weights).to(context.device)
    dataset = task.evaluation_dataset(weights, data)
    loader = evaluation_loader(dataset, batch_size=batch_size, workers=workers, context=context,
                               timeout_s=TrainConfig.timeout_s, collate=task.collate)
    return task.evaluate(model, loader, device=context.device, label_names=weights.label_names or [])
