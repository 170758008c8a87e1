"""What point-cloud classification optimises and scores, and how its weights are saved.

- Loss: cross-entropy, with label smoothing (``augment.label_smoothing``).
- Scores: overall accuracy ``oa`` (% of objects right) and mean per-class accuracy ``macc`` (the
  mean over classes of each class's accuracy, %), both reported for ModelNet since PointNet (Qi et
  al., CVPR 2017, table 1). Per-class hit and object counts are summed over ranks with
  :func:`fdsl.train.distributed.reduce_sum`, so every rank gets the same numbers; classes without
  a validation object are left out of the mean.
- Weights: ``model.safetensors``, ``config.json`` (architecture, model_args, classes, points per
  sample, the fdsl meta) and a short model card ``README.md``, each written atomically.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fdsl.atomic import write_text_atomic
from fdsl.licensing import generated_data_license
from fdsl.provenance import card_section
from fdsl.train.checkpoint import MODEL_CONFIG_FILE, write_tensors
from fdsl.train.distributed import reduce_sum
from fdsl.train.engine import Precision

CARD_FILE = "README.md"
#: Validation scores besides the loss; the first picks best/.
METRICS = ("oa", "macc")


def losses(config, label_names: list[str]):
    """(no batch transform, cross-entropy with the config's label smoothing)."""
    return None, nn.CrossEntropyLoss(label_smoothing=config.augment.label_smoothing)


def accuracy_scores(hits: torch.Tensor, totals: torch.Tensor) -> tuple[float, float]:
    """(overall accuracy %, mean per-class accuracy %) from per-class hit and object counts."""
    present = totals > 0
    overall = 100.0 * float(hits.sum()) / max(float(totals.sum()), 1.0)
    per_class = hits[present].double() / totals[present].double()
    return overall, 100.0 * float(per_class.mean()) if len(per_class) else 0.0


def class_counts(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(hits per class, objects per class) of one batch, float64."""
    right = logits.argmax(dim=1).eq(targets).double()
    hits = torch.zeros(classes, dtype=torch.float64).index_add_(0, targets.cpu(), right.cpu())
    totals = torch.bincount(targets.cpu(), minlength=classes).double()
    return hits, totals


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None,
             label_names: list[str]) -> dict[str, float]:
    """Loss, ``oa`` and ``macc`` (%) over every object of ``loader`` on all ranks together."""
    precision = precision or Precision()
    model.eval()
    classes = len(label_names)
    sums = torch.zeros(1 + 2 * classes, dtype=torch.float64)  # loss sum, hits per class, objects per class
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(inputs).float()
        hits, totals = class_counts(logits, targets, classes)
        sums += torch.cat([nn.functional.cross_entropy(logits, targets, reduction="sum").double().cpu()[None],
                           hits, totals])
    sums = reduce_sum(sums)
    hits, totals = sums[1:1 + classes], sums[1 + classes:]
    overall, mean_class = accuracy_scores(hits, totals)
    return {"loss": float(sums[0]) / max(float(totals.sum()), 1.0), "oa": overall, "macc": mean_class,
            "samples": int(totals.sum())}


# --- weights --------------------------------------------------------------------------------------
def weights_config(*, label_names: list[str], config, meta: dict[str, Any]) -> dict[str, Any]:
    """config.json: what :func:`fdsl.train.points.run.load_point_model` rebuilds the model from."""
    return {"architecture": config.model.name, "model_args": dict(config.model.kwargs),
            "num_classes": len(label_names), "label_names": list(label_names), "points": config.augment.points,
            "up_axis": config.augment.up_axis, "input": "float32 (batch, points, 3), centred, in the unit sphere",
            "fdsl": meta}


def save_weights(model: nn.Module, directory: Path, *, label_names: list[str], config,
                 meta: dict[str, Any]) -> None:
    """``model.safetensors``, ``config.json`` and ``README.md`` in ``directory``, atomically."""
    directory = Path(directory)
    write_tensors(directory, model)
    described = weights_config(label_names=label_names, config=config, meta=meta)
    write_text_atomic(directory / MODEL_CONFIG_FILE, json.dumps(described, indent=1, default=str))
    parameters = sum(p.numel() for p in model.parameters())
    write_text_atomic(directory / CARD_FILE, model_card(described, meta, directory, parameters=parameters))


def model_card(described: dict[str, Any], meta: dict[str, Any], directory: Path, *, parameters: int) -> str:
    """A short card: what the weights are, their data, the score at the saved epoch, how to load them."""
    config = meta.get("config") or {}
    data = config.get("data", {})
    row = meta.get("metrics") or {}
    trained_on = (f"pre-trained on `{data.get('family')}` ({data.get('categories')} categories x "
                  f"{data.get('instances')} instances)" if meta.get("task") == "pretrain"
                  else f"fine-tuned on the point folder `{data.get('dataset')}`"
                  + (f" from `{config.get('init')}`" if config.get("init") else " from scratch"))
    score = (f"validation OA {row['val_oa']:.2f}%, mAcc {row['val_macc']:.2f}%"
             if row.get("val_oa") is not None else "not scored at this epoch")
    return "\n".join([
        "---", "library_name: fdsl", "tags: [point-cloud-classification, fdsl, formula-driven-supervised-learning]",
        "---", "", f"# {described['architecture']} {trained_on}", "",
        f"- Architecture: `{described['architecture']}` {described['model_args']}, {parameters / 1e6:.2f}M "
        f"parameters, {described['num_classes']} classes, {described['points']} points per object "
        f"(up axis {described['up_axis']})",
        f"- Epoch {meta.get('epoch')}: {score}",
        f"- Licence: {licence_note(meta)}", "",
        "```python", "from fdsl.train.points import load_point_model",
        f'model = load_point_model("{directory}")  # input: {described["input"]}', "```", "",
        *([card_section(meta.get("provenance")), ""] if meta.get("provenance") else [])])


def licence_note(meta: dict[str, Any]) -> str:
    data = (meta.get("config") or {}).get("data", {})
    if meta.get("task") == "pretrain" and not data.get("data_dir"):
        stated = generated_data_license(data["family"])
        return f"{stated['spdx'] or 'see the data'}; the point clouds were {stated['note']}"
    return "the terms of the training data apply (check them before sharing these weights)"

