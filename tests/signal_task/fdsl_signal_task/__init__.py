"""A test-only task in one file: classifying 1-D signals, with its sample kind and its formula family,
registered through the entry points of this test package (``fdsl.formulas``, ``fdsl.tasks``) and
touching nothing in fdsl. The tests put this folder's parent on the path, as an installed package
would be, and run every command on it (tests/test_task_plugin.py).

- Kind ``signal``: float32 (L,), stored as ``<stem>.npy``.
- Family ``test-signals``: a category is a frequency, an instance a phase and noise.
- Task ``signal-classification``: a small 1-D CNN learns the category (pre-training) or the class
  folder of a folder of ``.npy`` signals (fine-tuning), scored by accuracy.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fdsl.config_fields import cli
from fdsl.configs import RunConfig, Section
from fdsl.data.config import FormulaDataConfig
from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig
from fdsl.registry import register
from fdsl.samples.base import SampleKind, check_array, decode_npy, encode_npy
from fdsl.tasks import PRETRAIN, Data, Task, register_task
from fdsl.train.config import OptimConfig, TrainConfig

LENGTH = 64


# --- the kind and the family ------------------------------------------------------------------------
class SignalKind(SampleKind):
    name = "signal"
    suffixes = (".npy",)

    def validate(self, sample):
        check_array("signal", sample, dtype="float32", ndim=1)

    def encode(self, sample):
        return [encode_npy(sample)]

    def decode(self, blobs):
        return decode_npy(blobs[0])

    def training_item(self, sample):
        import torch

        return torch.from_numpy(np.array(sample))[None]  # (1, L)

    def tile(self, sample, size):
        canvas = np.zeros((size, size, 3), np.uint8)
        values = np.interp(np.linspace(0, len(sample) - 1, size), np.arange(len(sample)), sample)
        rows = np.clip(((1 - values) * (size - 1) / 2).astype(np.intp), 0, size - 1)
        canvas[rows, np.arange(size)] = 255
        return canvas


@dataclasses.dataclass
class SignalsConfig(FormulaConfig):
    length: int = LENGTH
    noise: float = 0.1


@register("test-signals")
class Signals(Formula):
    """Sines whose frequency is the category (a test plugin)."""

    Config = SignalsConfig
    kind = SignalKind()

    def sample_category(self, rng):
        return {"cycles": float(rng.uniform(1.0, 8.0))}

    def render(self, params, instance, rng):
        t = np.arange(self.config.length) / self.config.length
        phase = rng.uniform(0, 2 * np.pi)
        noise = rng.normal(0, self.config.noise, self.config.length)
        return (np.sin(2 * np.pi * params["cycles"] * t + phase) + noise).astype(np.float32)


# --- the task's configs and presets -----------------------------------------------------------------
@dataclasses.dataclass
class SignalModelConfig(Section):
    name: str = "signal_cnn"
    width: int = 16


@dataclasses.dataclass
class SignalFormulaData(FormulaDataConfig):
    kinds: ClassVar[tuple[str, ...]] = ("signal",)
    family: str = dataclasses.field(default="test-signals", metadata=cli("--family", "formula family"))


@dataclasses.dataclass
class SignalFolderConfig(Section):
    """A folder ``root/<class>/*.npy`` of float32 (L,) signals; the last ``holdout`` of each class validates."""

    dataset: str = dataclasses.field(default="signals", metadata=cli("--dataset", "folder of class folders of .npy"))
    holdout: float = 0.25


@dataclasses.dataclass
class SignalPretrainConfig(RunConfig):
    model: SignalModelConfig = dataclasses.field(default_factory=SignalModelConfig)
    data: SignalFormulaData = dataclasses.field(default_factory=SignalFormulaData)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass
class SignalFinetuneConfig(RunConfig):
    model: SignalModelConfig = dataclasses.field(default_factory=SignalModelConfig)
    init: str | None = dataclasses.field(default=None, metadata=cli("--init", "weights of a signal run"))
    data: SignalFolderConfig = dataclasses.field(default_factory=SignalFolderConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


def small_train() -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=8, workers=0, threads=1, log_interval=1000)


PRESETS = {
    PRETRAIN: {"cpu-small": lambda: SignalPretrainConfig(
        data=SignalFormulaData(categories=3, instances=8, val_instances=2), train=small_train())},
    "finetune": {"cpu-small": lambda: SignalFinetuneConfig(train=small_train())},
}


# --- data, model, objective, weights ----------------------------------------------------------------
def folder_items(root: str, holdout: float) -> tuple[list, list, list[str]]:
    classes = sorted(p.name for p in Path(root).iterdir() if p.is_dir())
    check(bool(classes), f"signal folder {root!r} holds no class folders")
    train, val = [], []
    for label, name in enumerate(classes):
        files = sorted((Path(root) / name).glob("*.npy"))
        cut = len(files) - int(round(len(files) * holdout))
        train += [(f, label) for f in files[:cut]]
        val += [(f, label) for f in files[cut:]]
    return train, val, classes


class SignalFiles:
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, label = self.items[index]
        return SignalKind().training_item(np.load(path).astype(np.float32)), label


def build_net(width: int, classes: int):
    from torch import nn

    return nn.Sequential(nn.Conv1d(1, width, 5, padding=2), nn.ReLU(), nn.Conv1d(width, width, 5, padding=2),
                         nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, classes))


@register_task("signal-classification")
class SignalClassification(Task):
    pretrain_config = SignalPretrainConfig
    finetune_config = SignalFinetuneConfig
    evaluation_data = SignalFolderConfig
    metrics = ("acc",)
    pipeline_tag = "signal-classification"

    def presets(self, phase):
        return PRESETS[phase]

    def datasets(self, config, phase, *, progress=False):
        from fdsl.data.datasets import formula_datasets

        if phase == PRETRAIN:
            return Data(*formula_datasets(config.data, progress=progress))
        train, val, classes = folder_items(config.data.dataset, config.data.holdout)
        return Data(SignalFiles(train), SignalFiles(val) if val else None, classes)

    def check_finetune_data(self, data):
        folder_items(data.dataset, data.holdout)

    def build_model(self, config, label_names, weights):
        model = build_net(config.model.width, len(label_names))
        if weights is not None:  # everything but the classifier when the classes differ
            same = weights.label_names == list(label_names)
            model.load_state_dict({k: v for k, v in weights.state_dict.items() if same or not k.startswith("6.")},
                                  strict=same)
        return model

    def train_step(self, config, label_names):
        from torch import nn

        from fdsl.train.engine import SupervisedStep

        return SupervisedStep(nn.CrossEntropyLoss())

    def evaluate(self, model, loader, *, device, precision=None, label_names):
        import torch

        from fdsl.train.distributed import reduce_sum

        model.eval()
        sums = torch.zeros(3, dtype=torch.float64)  # loss sum, hits, samples
        with torch.no_grad():
            for inputs, targets in loader:
                logits = model(inputs.to(device)).float()
                targets = targets.to(device)
                loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
                sums += torch.tensor([loss.item(), (logits.argmax(1) == targets).sum().item(), len(targets)],
                                     dtype=torch.float64)
        loss, hits, count = reduce_sum(sums).tolist()
        return {"loss": loss / max(count, 1), "acc": 100 * hits / max(count, 1), "samples": int(count)}

    def write_weights_config(self, model, path, *, config, label_names, meta):
        path.write_text(json.dumps({"architecture": config.model.name, "width": config.model.width,
                                    "num_classes": len(label_names), "label_names": list(label_names),
                                    "fdsl": meta}, indent=1))

    def model_card(self, weights_config, directory, *, parameters):
        meta = weights_config["fdsl"]
        return f"# signal_cnn ({meta['phase']}, {parameters} parameters)\n\nepoch {meta['epoch']}\n"

    def load_model(self, weights):
        model = build_net(int(weights.config["width"]), int(weights.config["num_classes"]))
        model.load_state_dict(weights.state_dict)
        return model.eval()

    def evaluation_dataset(self, weights, data):
        _, val, _ = folder_items(data.dataset, data.holdout)
        return SignalFiles(val)


def write_signal_folder(root: Path, classes: int = 3, per_class: int = 8) -> Path:
    """Real-looking fine-tuning data for the tests: noisy sines of one frequency per class."""
    rng = np.random.default_rng(0)
    t = np.arange(LENGTH) / LENGTH
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            signal = np.sin(2 * np.pi * (2 + 3 * c) * t + rng.uniform(0, 6)) + rng.normal(0, 0.2, LENGTH)
            np.save(root / f"class{c}" / f"{i:03d}.npy", signal.astype(np.float32))
    return root


__all__: list[Any] = ["SignalClassification", "Signals", "write_signal_folder"]
