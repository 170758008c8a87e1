"""The short model card (``README.md``) beside segmentation weights: Hugging Face front matter
(``pipeline_tag: image-segmentation``), the model, the data, the result at the saved epoch, how to
load it with segmentation-models-pytorch, and the licence (pre-training on formula images: that
data's, :mod:`fdsl.licensing`; fine-tuning: the real data's terms apply)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fdsl.licensing import generated_data_license
from fdsl.provenance import card_section

TAGS = ["image-segmentation", "segmentation-models-pytorch", "fdsl", "formula-driven-supervised-learning"]


def model_card(model_config: dict[str, Any], directory: Path, *, parameters: int) -> str:
    meta = model_config["fdsl"]
    licence = licence_of(meta)
    header = {"library_name": "segmentation-models-pytorch", "license": licence["id"],
              **({"license_name": "training-data-terms"} if licence["id"] == "other" else {}),
              "pipeline_tag": "image-segmentation", "tags": TAGS}
    sections = [
        "---\n" + yaml.safe_dump(header, sort_keys=False) + "---",
        f"# {model_config['architecture']} / {model_config['encoder']}: {what_data(meta)}\n\n"
        f"Weights saved by fdsl after epoch {meta['epoch']} of {meta['config']['train']['epochs']}.",
        "## Model\n\n"
        f"- segmentation-models-pytorch `{model_config['architecture']}` over the timm encoder "
        f"`{model_config['encoder']}` (`{model_config['encoder_kwargs']}`), {parameters:,} parameters\n"
        f"- Classes: {model_config['num_classes']} (`label_names` in config.json); label 255 is ignored\n"
        f"- Input: {model_config['input_size']} (channels, height, width), mean {model_config['mean']}, "
        f"std {model_config['std']}",
        result(meta),
        how_to_load(model_config, directory),
        "## Licence\n\n" + licence["text"],
        card_section(meta.get("provenance")),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def what_data(meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    if meta["task"] == "pretrain":
        return f"pre-trained on {data['family']} ({data['categories']} x {data['instances']} scenes, seed {data['seed']})"
    return f"fine-tuned on {data['dataset']}" + (f" (first {data['train_limit']} training images)"
                                                  if data.get("train_limit") else "")


def result(meta: dict[str, Any]) -> str:
    row = meta["metrics"]
    line = f"- Epoch {row['epoch']}: training loss {row['train_loss']:.4f}"
    if row.get("val_miou") is None:
        return f"## Result\n\n{line}\n- Validation: not scored at this epoch"
    return (f"## Result\n\n{line}\n- Validation: mIoU {row['val_miou']:.2f}%, pixel accuracy "
            f"{row['val_pixel_acc']:.2f}%, loss {row['val_loss']:.4f}")


def how_to_load(model_config: dict[str, Any], directory: Path) -> str:
    kwargs = {**model_config["decoder_kwargs"], **model_config["encoder_kwargs"]}
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return "\n".join([
        "## How to load (fdsl is not needed)", "", "```python", "import safetensors.torch",
        "import segmentation_models_pytorch as smp", "",
        f'model = smp.create_model("{model_config["architecture"]}", encoder_name="tu-{model_config["encoder"]}", '
        f'encoder_weights=None, classes={model_config["num_classes"]}{extra})',
        f'model.load_state_dict(safetensors.torch.load_file("{directory / "model.safetensors"}"))', "```"])


def licence_of(meta: dict[str, Any]) -> dict[str, str]:
    if meta["task"] == "pretrain":
        stated = generated_data_license(meta["config"]["data"]["family"])
        if stated["spdx"] is not None:
            return {"id": stated["spdx"].lower(), "text": f"{stated['spdx']}. The pre-training images were {stated['note']}."}
        return {"id": "other", "text": f"Pre-trained on images {stated['note']}."}
    init = meta["config"].get("init")
    text = (f"Fine-tuned on real images (`{meta['config']['data']['dataset']}`): the licence and terms of use of that "
            "dataset apply to these weights; check them before sharing the weights.")
    if init:
        text += f" The starting weights `{init}` carry their own licence, which applies too."
    return {"id": "other", "text": text}
