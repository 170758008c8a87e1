"""What the training tests share: one set of tiny runs for every task (overrides of each task's
``cpu-small`` presets: a tiny model, tiny data, two quick epochs, no worker processes), the small data
folders they train on, weights saved as a run saves them, a Ctrl-C in an epoch, and torchrun."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from fdsl.configs import resolve
from fdsl.tasks import FINETUNE, PRETRAIN, get_task

TINY_VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_ratio": 2.0}
TINY_LOOP = {"epochs": 2, "batch_size": 8, "workers": 0, "threads": 1, "log_interval": 1000, "eval_interval": 1}
TINY_SEG_MODEL = {"name": "fpn", "encoder": "resnet18", "encoder_kwargs": {"channels": [8, 8, 16, 16], "stem_width": 8},
                  "decoder_kwargs": {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}}
TINY_POINT_LOOP = {"epochs": 2, "batch_size": 8, "workers": 0, "threads": 1, "log_interval": 1000}
TINY_POINT_MODEL = {"name": "pointnet2_ssg", "kwargs": {"width": 0.125, "centroids": [32, 8], "neighbours": [8, 8]}}
#: Classification's model and loop (tests write it into YAML files beside other keys).
TINY = {"model": {"name": "vit_tiny_patch16_224", "kwargs": TINY_VIT}, "train": TINY_LOOP}
TINY_PRETRAIN = {
    **TINY,
    "data": {"formula": {"size": 32, "points": 1000, "search_size": 64, "search_points": 3000},
             "categories": 3, "instances": 8, "val_instances": 2},
}
TINY_FINETUNE = {**TINY, "data": {"holdout": 0.25, "val_per_class": None}}
#: task -> phase -> the overrides of its cpu-small preset that make a tiny run.
TINY_RUNS = {
    "classification": {PRETRAIN: TINY_PRETRAIN, FINETUNE: TINY_FINETUNE},
    "segmentation": {
        PRETRAIN: {"model": TINY_SEG_MODEL, "augment": {"size": [64, 64]}, "train": {**TINY_LOOP, "batch_size": 4},
                   "data": {"family": "segrcdb", "categories": 1, "instances": 16, "val_instances": 4,
                            "formula": {"size": 64, "classes": 7, "instances_per_image": 8, "max_contours": 10}}},
        FINETUNE: {"model": TINY_SEG_MODEL, "augment": {"size": [64, 64]}, "train": {**TINY_LOOP, "batch_size": 4},
                   "data": {"num_classes": 3, "void": 3, "class_names": []}},
    },
    "points": {
        PRETRAIN: {"model": TINY_POINT_MODEL, "augment": {"points": 128}, "train": TINY_POINT_LOOP,
                   "data": {"family": "pcfractaldb", "formula": {"points": 1000, "classes": 16}, "categories": 3,
                            "instances": 8, "val_instances": 2}},
        FINETUNE: {"model": TINY_POINT_MODEL, "augment": {"points": 128}, "train": TINY_POINT_LOOP,
                   "data": {"holdout": 0.2}},
    },
}


def tiny(task: str, phase: str, *layers: dict, dataset: Path | str | None = None):
    """The tiny run of ``task`` and ``phase`` (fine-tuning on ``dataset``), over its cpu-small preset."""
    data = [{"data": {"dataset": str(dataset)}}] if dataset is not None else []
    return resolve(get_task(task).preset(phase, "cpu-small"), TINY_RUNS[task][phase], *data, *layers)


def tiny_pretrain(*layers: dict):
    return tiny("classification", PRETRAIN, *layers)


def tiny_finetune(dataset: Path, *layers: dict):
    return tiny("classification", FINETUNE, *layers, dataset=dataset)


def torchrun(*argv, cwd: Path, processes: int = 2, env: dict | None = None, timeout: int = 600
             ) -> subprocess.CompletedProcess:
    """``fdsl ARGV`` under torchrun with ``processes`` CPU processes (gloo), one torch thread each."""
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
         "-m", "fdsl", *map(str, argv)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def write_yaml(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def make_image_folder(root: Path, classes: int = 3, per_class: int = 8, size: int = 32) -> Path:
    """``classes`` folders of coloured noise (one dominant channel per class): learnable, tiny."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, size=(size, size, 3))
            pixels[..., c % 3] += 120
            Image.fromarray(pixels.astype(np.uint8)).save(root / f"class{c}" / f"{i:03d}.png")
    return root


#: A colour per class, far apart, so that the class of a pixel can be read back from its colour.
PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]], np.uint8)


def blocky_labels(rng: np.random.Generator, height: int, width: int, classes: int, block: int = 16) -> np.ndarray:
    """Labels constant over block x block squares (so that crops and resizes keep most pixels inside one)."""
    coarse = rng.integers(0, classes, size=(-(-height // block), -(-width // block)))
    return np.kron(coarse, np.ones((block, block), np.int64))[:height, :width].astype(np.uint8)


def write_split(root: Path, split: str, labels: list[np.ndarray], *, names: list[str] | None = None) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        name = names[i] if names else f"{i:03d}"
        colours = PALETTE[np.minimum(label, len(PALETTE) - 1)]
        Image.fromarray(colours).save(root / split / f"{name}.png")
        Image.fromarray(label).save(root / f"{split}annot" / f"{name}.png")


def make_seg_folder(root: Path, *, train: int = 4, val: int = 2, size=(48, 64), classes: int = 3,
                    void: int | None = None) -> Path:
    """CamVid's layout (train/, trainannot/, val/, valannot/) of blocky labels coloured by class."""
    rng = np.random.default_rng(0)
    labels = [blocky_labels(rng, *size, classes) for _ in range(train + val)]
    if void is not None:
        labels[0][:4, :4] = void
    write_split(root, "train", labels[:train])
    write_split(root, "val", labels[train:])
    return root


def make_point_folder(root: Path, classes: int = 3, per_class: int = 10, points: int = 64) -> Path:
    """Classes told apart by shape: a stretched blob along axis c."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            blob = rng.normal(size=(points, 3)) * 0.2
            blob[:, c % 3] *= 5
            np.save(root / f"class{c}" / f"{i:03d}.npy", blob.astype(np.float32))
    return root


def interrupt_epoch(monkeypatch, epoch: int, run) -> None:
    """Call ``run()`` with epoch number ``epoch`` (1-based) cut short by a KeyboardInterrupt, as a
    user's Ctrl-C would: the epochs before it are checkpointed, then the real loop is put back."""
    import pytest

    from fdsl.train import trainer

    real, calls = trainer.train_one_epoch, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(trainer, "train_one_epoch", real)


def save_run_weights(task: str, phase: str, model, out: Path, *, config, label_names: list[str],
                     metrics: dict | None = None, data: dict | None = None) -> Path:
    """``model`` saved in ``out`` as a run of ``task`` and ``phase`` saves it (its config.json names both)."""
    from fdsl.configs import to_dict
    from fdsl.tasks import get_task
    from fdsl.train.checkpoint import save_weights

    values = to_dict(config)
    if data is not None:
        values["data"] = data
    row = {"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, **(metrics or {})}
    meta = {"task": task, "phase": phase, "epoch": 1, "metrics": row, "config": values}
    save_weights(get_task(task), model, out, label_names=label_names, config=config, meta=meta)
    return out


def one_line_error(code: int, err: str, *needles: str, after_progress: bool = False, stdout: str | None = None) -> str:
    """What bad input must end in: exit status 2, no traceback, one ``fdsl: error: ...`` line holding
    every needle, the last on stderr (alone, unless ``after_progress``: a render's or a training's
    progress lines may come first), and an empty ``stdout`` when given; returns the line."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("fdsl: error: ")]
    assert code == 2 and "Traceback" not in err, err
    assert errors == lines[-1:] and (after_progress or len(lines) == 1), err
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    assert stdout is None or stdout == "", stdout
    return errors[0]


def raises_one_line(call, *needles: str) -> str:
    """``call()`` raises an FdslError of one line holding every needle; returns its message."""
    import pytest

    from fdsl.errors import FdslError

    with pytest.raises(FdslError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message
