"""Tiny training settings shared by the training tests: a 20k-parameter ViT at 32 px, a few
FractalDB categories rendered fast, and a small ImageFolder of coloured noise."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from fdsl.configs import resolve
from fdsl.tasks.classification.presets import finetune_preset, pretrain_preset

TINY_VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_ratio": 2.0}
#: Overrides of the cpu-small presets: tiny model, tiny data, two quick epochs, no worker processes.
TINY = {
    "model": {"name": "vit_tiny_patch16_224", "kwargs": TINY_VIT},
    "train": {"epochs": 2, "batch_size": 8, "workers": 0, "threads": 1, "log_interval": 1000, "eval_interval": 1},
}
TINY_PRETRAIN = {
    **TINY,
    "data": {"formula": {"size": 32, "points": 1000, "search_size": 64, "search_points": 3000},
             "categories": 3, "instances": 8, "val_instances": 2},
}
TINY_FINETUNE = {**TINY, "data": {"holdout": 0.25, "val_per_class": None}}


def tiny_pretrain(*layers: dict):
    return resolve(pretrain_preset("cpu-small"), TINY_PRETRAIN, *layers)


def tiny_finetune(dataset: Path, *layers: dict):
    return resolve(finetune_preset("cpu-small"), TINY_FINETUNE, {"data": {"dataset": str(dataset)}}, *layers)


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


def one_line_error(code: int, err: str, *needles: str) -> str:
    """Exit status 2 and one line on stderr, ``fdsl: error: ...`` holding every needle; returns the line."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("fdsl: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
