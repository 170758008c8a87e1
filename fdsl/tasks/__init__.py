"""Training tasks: what a run learns, by name. Every task is a package of the same shape
(``fdsl/tasks/<name>/``): its config sections and presets (``config.py``, ``presets.py``), its model
builder, its data, its objective (collate, training step, evaluation and scores) and how its weights
are saved and read back, gathered by a :class:`Task` subclass registered with :func:`register_task`.

The shared run (:mod:`fdsl.train.run`), the loop, the launcher, ``compare``, ``study`` and ``evaluate``
call a task only through that interface and know none by name. A family's sample kind picks the task
that pre-trains on it (:func:`task_of_family`), and every weights folder's ``config.json`` names its
task and phase under ``fdsl`` (:func:`task_of_weights`).

Other packages add tasks through the ``fdsl.tasks`` entry-point group, as families join through
``fdsl.formulas`` (:mod:`fdsl.registry`)::

    [project.entry-points."fdsl.tasks"]
    signals = "fdsl_signals.task"     # importing it runs its @register_task("signal-regression")

A task module stays cheap to import (configs, presets): what needs torch is imported when called.
"""
from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fdsl.config_fields import sections
from fdsl.errors import FdslError, check
from fdsl.registry import Registry

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset

    from fdsl.train.checkpoint import Weights

PRETRAIN, FINETUNE = "pretrain", "finetune"
PHASES = (PRETRAIN, FINETUNE)
#: How messages name a phase.
PHASE_WORDS = {PRETRAIN: "pre-training", FINETUNE: "fine-tuning"}
DEFAULT_TASK = "classification"

#: Training tasks: the built-in ones, then the ``fdsl.tasks`` plugins.
TASKS = Registry("task", "fdsl.tasks", ("fdsl.tasks.classification", "fdsl.tasks.segmentation", "fdsl.tasks.points",
                                        "fdsl.tasks.detection", "fdsl.tasks.video"))

#: How a score is named in tables and messages (any other name is shown as it is).
METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "miou": "mIoU", "pixel_acc": "pixel accuracy",
                 "oa": "overall accuracy", "macc": "mean class accuracy",
                 **{f"{kind}_ap{range_}": f"{kind} AP{range_.replace('_', ' ')}" for kind in ("box", "mask")
                    for range_ in ("", "50", "75", "_small", "_medium", "_large")}}


def metric_label(metric: str) -> str:
    """``top1`` -> ``top-1``; a metrics.csv column (``val_miou``) gives its score's label too."""
    name = metric[4:] if metric.startswith("val_") else metric
    return METRIC_LABELS.get(name, name)


@dataclasses.dataclass
class Data:
    """A run's datasets: training, validation (or None) and the names of the labels."""

    train: "Dataset"
    val: "Dataset | None"
    label_names: list[str]


@dataclasses.dataclass
class Step:
    """One training step's result: the loss to minimise, the samples it saw on this rank, and the
    named terms the loss sums (logged per epoch as ``train_<term>``; a detector's loss dict)."""

    loss: Any
    count: int
    terms: dict[str, Any] | None = None


#: model, batch, device, precision -> Step
TrainStep = Callable[["nn.Module", Any, Any, Any], Step]


class Task(ABC):
    """A learning task. Its configs are :class:`fdsl.configs.RunConfig` dataclasses with ``model``,
    ``data``, ``optim`` and ``train`` sections (the fine-tuning one with ``init``: the weights it starts
    from, None from scratch); the pre-training data section is a :class:`fdsl.data.config.FormulaDataConfig`
    whose ``kinds`` are the sample kinds the task learns.

    Subclasses set the class attributes and implement the abstract methods; the
    shared run calls them in this order: ``resolve_init`` (fine-tuning), ``check_model``, ``datasets``,
    ``build_model``, ``train_step`` (once per run), then per epoch the loader yields batches made with
    ``collate`` and ``evaluate`` scores validation; ``write_weights_config`` and ``model_card`` save
    weights. ``load_model`` and ``evaluation_dataset`` serve ``fdsl evaluate``."""

    name: ClassVar[str]  # set by register_task
    pretrain_config: ClassVar[type]
    finetune_config: ClassVar[type]
    #: The data config ``fdsl evaluate`` fills (its declared flags, less ``evaluation_unused``).
    evaluation_data: ClassVar[type]
    evaluation_unused: ClassVar[tuple[str, ...]] = ()
    eval_batch_size: ClassVar[int] = 32
    #: Validation scores that ``evaluate`` returns besides "loss"; metrics[0] picks best/ (higher is better).
    metrics: ClassVar[tuple[str, ...]]
    #: Named terms of the training loss (a detector's), logged per epoch as ``train_<term>``.
    loss_terms: ClassVar[tuple[str, ...]] = ()
    #: What ``evaluate`` counts ("images", "pixels", "samples"): its scores carry that many under this key.
    unit: ClassVar[str] = "samples"
    #: The model hub's pipeline tag of the task's weights.
    pipeline_tag: ClassVar[str]
    #: Batches are made of the dataset's items by this function (None: torch's default collate).
    collate: ClassVar[Callable | None] = None

    # --- configs and presets ---------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, ...]:
        """The sample kinds this task pre-trains on: those its pre-training data config declares."""
        return sections(self.pretrain_config)["data"].kinds

    @property
    def primary(self) -> str:
        return self.metrics[0]

    def config_class(self, phase: str) -> type:
        return self.pretrain_config if phase == PRETRAIN else self.finetune_config

    @abstractmethod
    def presets(self, phase: str) -> dict[str, Callable[[], Any]]:
        """The recipes of ``phase`` by name (each a function returning a config)."""

    def preset(self, phase: str, name: str) -> Any:
        presets = self.presets(phase)
        check(name in presets, f"unknown {self.name} {PHASE_WORDS[phase]} preset {name!r}; valid: {', '.join(presets)}")
        return presets[name]()

    # --- the run ---------------------------------------------------------------------------------
    def check_model(self, config: Any) -> None:
        """Cheap checks of ``config.model`` before data that may take minutes to prepare."""

    def resolve_init(self, config: Any) -> tuple[Any, "Weights | None"]:
        """Fine-tuning: ``config`` with the architecture its init weights need, and those weights
        (None from scratch). Default: the weights of a run of this task, the architecture unchanged."""
        if config.init is None:
            return config, None
        from fdsl.train.checkpoint import load_weights

        weights = load_weights(config.init)
        check_weights_task(weights, self.name)
        return config, weights

    @abstractmethod
    def datasets(self, config: Any, phase: str, *, progress: bool = False) -> Data:
        """The run's data. Everything that can be checked before training (every label, every file)
        is checked here: the run folder is made after."""

    def check_finetune_data(self, data: Any) -> None:
        """A one-line error for fine-tuning data that cannot be read (a study checks it before it
        pre-trains). Default: build the fine-tuning datasets of the default preset with ``data``."""
        config = dataclasses.replace(self.preset(FINETUNE, next(iter(self.presets(FINETUNE)))), data=data)
        self.datasets(config, FINETUNE)

    def comparison_recipe(self, config: Any) -> Any:
        """The fine-tuning recipe that ``compare`` runs from every checkpoint (and from scratch): as
        given by default; a task whose configs can keep a checkpoint's classifier asks for a new one."""
        return config

    @abstractmethod
    def build_model(self, config: Any, label_names: list[str], weights: "Weights | None") -> "nn.Module":
        """The model, initialised (the run seeds torch's generator just before) from ``weights`` if any."""

    @abstractmethod
    def train_step(self, config: Any, label_names: list[str]) -> TrainStep:
        """The training step of a run: a batch to a :class:`Step` (the loss and what it counts)."""

    def loader_stage(self, config: Any, device: Any) -> Callable | None:
        """A wrapper of the training loader that finishes each batch on the device (None: none)."""
        return None

    @abstractmethod
    def evaluate(self, model: "nn.Module", loader: Any, *, device: Any, precision: Any = None,
                 label_names: list[str]) -> dict[str, float]:
        """{"loss": ..., each of ``metrics``: ..., ``unit``: count} over every rank's share of ``loader``."""

    # --- weights ---------------------------------------------------------------------------------
    @abstractmethod
    def write_weights_config(self, model: "nn.Module", path: Path, *, config: Any, label_names: list[str],
                             meta: dict[str, Any]) -> None:
        """Write ``config.json``: what rebuilds the model and its input, and ``meta`` under ``fdsl``."""

    @abstractmethod
    def model_card(self, weights_config: dict[str, Any], directory: Path, *, parameters: int) -> str:
        """The model card (README.md) of the weights whose config.json is ``weights_config``."""

    @abstractmethod
    def load_model(self, weights: "Weights") -> "nn.Module":
        """The model that saved ``weights`` (of this task), with them loaded, in eval mode."""

    @abstractmethod
    def evaluation_dataset(self, weights: "Weights", data: Any) -> "Dataset":
        """The split of ``data`` that fine-tuning validated on, prepared as the run prepared it."""

    def draw_predictions(self, weights: dict[str, Path], data: Any, path: Path) -> bool:
        """A picture of each weights' predictions (label -> weights folder) beside the truth on images of
        the split of ``data`` (a fine-tuning data config) that fine-tuning validated on, written to
        ``path`` for reports; False when the task draws none (the default)."""
        return False


def lazy(module: str, function: str) -> Callable:
    """A task method that imports ``module`` when first called and calls its ``function`` with the
    method's arguments (so a task package imports torch only when it trains)."""

    def method(self, *args, **kwargs):
        return getattr(importlib.import_module(module), function)(*args, **kwargs)

    method.__name__ = function
    method.__doc__ = f"``{module}.{function}``"
    return method


def register_task(name: str):
    """Class decorator registering a :class:`Task` subclass under ``name``."""
    return TASKS.register(name)


def list_tasks() -> list[str]:
    return TASKS.names()


_instances: dict[type, Task] = {}


def get_task(name: str) -> Task:
    """The task called ``name``; a one-line error for an unknown one."""
    cls = TASKS.get(name)
    if cls not in _instances:
        _instances[cls] = cls()
    return _instances[cls]


def task_of_kind(kind: str) -> Task:
    """The task whose pre-training learns samples of ``kind`` (e.g. "image+mask" -> segmentation)."""
    for name in list_tasks():
        task = get_task(name)
        if kind in task.kinds:
            return task
    raise FdslError(f"no training task learns {kind!r} samples; tasks: {', '.join(list_tasks())}")


def task_of_family(family: str) -> Task:
    """The task that pre-trains on ``family``, by its declared sample kind."""
    from fdsl.registry import formula_class

    return task_of_kind(formula_class(family).kind.name)


def run_meta(weights_config: dict[str, Any] | None) -> dict[str, Any]:
    """What a run recorded in a weights folder's config.json (under ``fdsl``), {} for bare weights."""
    return (weights_config or {}).get("fdsl") or {}


def task_of_weights(weights_config: dict[str, Any] | None) -> str | None:
    """The task whose run saved a weights folder, as its config.json names it (None: unknown, e.g.
    bare weights or timm's own)."""
    return run_meta(weights_config).get("task") if "phase" in run_meta(weights_config) else None


def check_weights_task(weights: "Weights", task: str) -> None:
    """A one-line error when ``weights`` were saved by another task's run."""
    found = task_of_weights(weights.config)
    check(found in (None, task), f"{str(weights.path)!r} holds {found} weights; pass --task {found}")
