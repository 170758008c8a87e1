"""What every task's model card (``README.md`` beside saved weights) shares: the Hugging Face front
matter (https://huggingface.co/docs/hub/model-cards), the result at the saved epoch, the licence and
the provenance. A task writes the sections that are its own (the model, how to load it) and joins
them with :func:`assemble`.

The licence: weights trained only on formula images take the licence of that data
(:mod:`fdsl.licensing`); a folder of images without an fdsl dataset card, and real data, bring their
own terms, and fine-tuned weights name their starting point's too.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fdsl.licensing import generated_data_license
from fdsl.provenance import card_section
from fdsl.registry import list_formulas
from fdsl.tasks import PRETRAIN, metric_label

TAGS = ["fdsl", "formula-driven-supervised-learning"]
DATA_TERMS = {"license_name": "training-data-terms"}


def assemble(*sections: str, meta: dict[str, Any]) -> str:
    """The card: ``sections`` in order, then the provenance of the run (when recorded)."""
    return "\n\n".join(s for s in (*sections, card_section(meta.get("provenance"))) if s) + "\n"


def front_matter(*, library: str, licence: dict[str, Any], pipeline_tag: str, tags: list[str]) -> str:
    header = {"library_name": library, "license": licence["id"], **licence.get("extra", {}),
              "pipeline_tag": pipeline_tag, "tags": [*tags, *TAGS]}
    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---"


def family_tag(meta: dict[str, Any]) -> list[str]:
    """The formula family of a pre-training, as a tag (none for fine-tuned weights)."""
    return [meta["config"]["data"]["family"]] if meta["phase"] == PRETRAIN else []


def result(meta: dict[str, Any], metrics: tuple[str, ...]) -> str:
    """The scores at the saved epoch, on the held-out instances (pre-training) or the validation split."""
    row = meta["metrics"]
    lines = ["## Result", "", f"- Epoch {row['epoch']}: training loss {row['train_loss']:.4f}"]
    if row.get(f"val_{metrics[0]}") is None:
        lines.append("- Validation: not scored at this epoch")
    else:
        where = "the held-out instances of each category" if meta["phase"] == PRETRAIN else "the validation split"
        scores = ", ".join(f"{metric_label(m)} {row[f'val_{m}']:.2f}%" for m in metrics)
        lines.append(f"- Validation on {where}: {scores}, loss {row['val_loss']:.4f}")
    return "\n".join(lines)


def licence_of(meta: dict[str, Any], describe_dataset: Callable[[str], str] = "`{}`".format) -> dict[str, Any]:
    """``{"id": hub licence id, "text": the card's licence section, "extra": more front matter}``."""
    return pretrain_licence(meta) if meta["phase"] == PRETRAIN else finetune_licence(meta, describe_dataset)


def pretrain_licence(meta: dict[str, Any]) -> dict[str, Any]:
    data = meta["config"]["data"]
    if data.get("data_dir") and not any(Path(data["data_dir"]).glob("dataset_card*.json")):
        return {"id": "other", "extra": DATA_TERMS,
                "text": f"Pre-trained on the folder `{data['data_dir']}`, which holds no fdsl dataset card: the "
                        "licence of its samples applies to these weights."}
    stated = generated_data_license(data["family"])
    if stated["spdx"] is None:
        return {"id": "other", "extra": DATA_TERMS, "text": f"Pre-trained on samples {stated['note']}."}
    return {"id": stated["spdx"].lower(), "text": f"{stated['spdx']}. The pre-training samples were {stated['note']}."}


def finetune_licence(meta: dict[str, Any], describe_dataset: Callable[[str], str] = "`{}`".format) -> dict[str, Any]:
    config = meta["config"]
    dataset, init = config["data"]["dataset"], config.get("init")
    lines = [f"Fine-tuned on real data: {describe_dataset(dataset)}. The licence and terms of use of that dataset "
             "apply to these weights; check them before sharing the weights."]
    if init == "timm":
        lines.append(f"The starting point, timm's pretrained weights of `{config['model']['name']}`, has its own "
                     "licence (see its model card), which applies too.")
    elif init is not None and meta.get("init_data"):
        family = meta["init_data"]["family"]
        note = generated_data_license(family)["note"] if family in list_formulas() else f"of the family {family!r}"
        lines.append(f"The starting point `{init}` was pre-trained on samples {note}.")
    elif init is not None:
        lines.append(f"The licence of the starting weights `{init}` applies too.")
    return {"id": "other", "extra": DATA_TERMS, "text": " ".join(lines)}
