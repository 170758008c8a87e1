"""Training tasks by name: what a sample kind is learned as, and what a run optimises and scores.

A :class:`Task` ties the formula families of some sample kinds (``image`` -> classification,
``image+mask`` -> segmentation, ``point cloud`` -> points) to their config dataclasses, presets and
entry points, so that ``fdsl pretrain --family segrcdb`` and the study runner pick the right ones
without naming a family. An :class:`Objective` is the part :func:`fdsl.train.trainer.fit` needs:
the loss, the validation scores (the first one picks ``best/``) and how weights are saved.

Each task lives in its own module exposing ``TASK``; this module imports none of them until asked,
so the CLI stays cheap to start.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from fdsl.errors import FdslError, check

#: Task name -> the module that defines its ``TASK``.
TASK_MODULES = {
    "classification": "fdsl.train.classify",
    "segmentation": "fdsl.train.segmentation",
    "points": "fdsl.train.points",
}
DEFAULT_TASK = "classification"
#: How a score is named in tables and messages (any other name is shown as it is).
METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "miou": "mIoU", "pixel_acc": "pixel accuracy",
                 "oa": "overall accuracy", "macc": "mean class accuracy"}


def metric_label(metric: str) -> str:
    """``top1`` -> ``top-1``; a metrics.csv column (``val_miou``) gives its score's label too."""
    name = metric[4:] if metric.startswith("val_") else metric
    return METRIC_LABELS.get(name, name)


@dataclasses.dataclass(frozen=True)
class Objective:
    """What :func:`fdsl.train.trainer.fit` needs to know about a task: its loss and its scores."""

    #: Validation scores that ``evaluate`` returns besides "loss"; metrics[0] picks best/ (higher is better).
    metrics: tuple[str, ...]
    #: (config, label_names) -> (batch transform or None, loss_fn(outputs, targets)).
    losses: Callable[[Any, list[str]], tuple[Callable | None, Callable]]
    #: (model, loader, *, device, precision, label_names) -> {"loss": ..., metric: ...}, over all ranks.
    evaluate: Callable[..., dict[str, float]]
    #: (model, directory, *, label_names, config, meta) -> None: model.safetensors, config.json, README.md.
    save_weights: Callable[..., None]
    #: (config, device) -> None, or a wrapper of the training loader that finishes each batch on the
    #: device (classification's ``augment.on_device``: :func:`fdsl.train.augment.device_stage`).
    device_stage: Callable[[Any, Any], Callable | None] | None = None

    @property
    def primary(self) -> str:
        return self.metrics[0]


@dataclasses.dataclass(frozen=True)
class Task:
    """A learning task: the sample kinds it pre-trains on, its configs, presets and entry points."""

    name: str
    kinds: tuple[str, ...]
    pretrain_config: type
    finetune_config: type
    #: (config, out, *, resume=False) -> FitResult
    pretrain: Callable[..., Any]
    finetune: Callable[..., Any]
    pretrain_presets: dict[str, Callable[[], Any]]
    finetune_presets: dict[str, Callable[[], Any]]
    objective: Objective
    #: (fine-tuning data config) -> None: raises a one-line error for data that cannot be read, so that a
    #: study fails before its pre-training rather than after it.
    check_finetune_data: Callable[[Any], None] | None = None
    #: (fine-tuning config with ``init``) -> (the config with the architecture the init weights need,
    #: the weights): so that ``compare`` trains scratch with the pre-trained arms' architecture.
    resolve_init: Callable[[Any], tuple[Any, Any]] | None = None
    #: The data config that ``fdsl evaluate`` fills (its declared flags, less ``evaluation_unused``).
    evaluation_data: type | None = None
    evaluation_unused: tuple[str, ...] = ()
    #: (weights path, data config, *, batch_size, workers, device) -> {"loss": ..., metric: ...,
    #: and the count of scored "images", "pixels" or "samples"}: saved weights on a validation split.
    evaluate_weights: Callable[..., dict[str, float]] | None = None

    def pretrain_preset(self, name: str) -> Any:
        return _preset(self.pretrain_presets, name, "pre-training")

    def finetune_preset(self, name: str) -> Any:
        return _preset(self.finetune_presets, name, "fine-tuning")


def _preset(presets: dict[str, Callable[[], Any]], name: str, what: str) -> Any:
    check(name in presets, f"unknown {what} preset {name!r}; valid: {', '.join(presets)}")
    return presets[name]()


def list_tasks() -> list[str]:
    return list(TASK_MODULES)


def get_task(name: str) -> Task:
    """The task called ``name``; a one-line error for an unknown one."""
    check(name in TASK_MODULES, f"unknown task {name!r}; valid: {', '.join(TASK_MODULES)}")
    try:
        module = importlib.import_module(TASK_MODULES[name])
    except ModuleNotFoundError as error:
        raise FdslError(f"task {name!r} is not available in this installation ({error})") from None
    return module.TASK


#: The ``task`` of a segmentation weights folder's config.json (the model hub's pipeline tag).
SEGMENTATION_WEIGHTS = "image-segmentation"


def task_of_weights(config: dict[str, Any] | None) -> str | None:
    """The task whose run saved a weights folder, from its config.json (None: unknown, or bare weights)."""
    if not config:
        return None
    if config.get("task") == SEGMENTATION_WEIGHTS:
        return "segmentation"
    if "up_axis" in config and "points" in config:
        return "points"
    if "pretrained_cfg" in config:
        return "classification"
    return None


def check_weights_task(weights, task: str) -> None:
    """A one-line error when ``weights`` (a :class:`fdsl.train.checkpoint.Weights`) come from another task."""
    found = task_of_weights(weights.config)
    check(found in (None, task), f"{str(weights.path)!r} holds {found} weights; pass --task {found}")


def task_of_kind(kind: str) -> Task:
    """The task whose pre-training learns samples of ``kind`` (e.g. "image+mask" -> segmentation)."""
    for name in TASK_MODULES:
        try:
            task = get_task(name)
        except FdslError:  # not installed
            continue
        if kind in task.kinds:
            return task
    raise FdslError(f"no training task learns {kind!r} samples")


def task_of_family(family: str) -> Task:
    """The task that pre-trains on ``family``, by its declared sample kind."""
    from fdsl.registry import formula_class, list_formulas

    check(family in list_formulas(), f"unknown family {family!r}; valid: {', '.join(list_formulas())}")
    return task_of_kind(formula_class(family).kind.name)
