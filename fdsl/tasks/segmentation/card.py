"""The short model card (``README.md``) beside segmentation weights: the shared front matter
(``pipeline_tag: image-segmentation``, :mod:`fdsl.train.model_card`), the model, the data, the result
at the saved epoch, how to load it with segmentation-models-pytorch, the licence and the provenance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fdsl.tasks import PRETRAIN
from fdsl.train.model_card import assemble, family_tag, front_matter, licence_of, result

PIPELINE_TAG = "image-segmentation"


def model_card(model_config: dict[str, Any], directory: Path, *, parameters: int) -> str:
    meta = model_config["fdsl"]
    licence = licence_of(meta)
    return assemble(
        front_matter(library="segmentation-models-pytorch", licence=licence, pipeline_tag=PIPELINE_TAG,
                     tags=["segmentation-models-pytorch", *family_tag(meta)]),
        f"# {model_config['architecture']} / {model_config['encoder']}: {what_data(meta)}\n\n"
        f"Weights saved by fdsl after epoch {meta['epoch']} of {meta['config']['train']['epochs']}.",
        "## Model\n\n"
        f"- segmentation-models-pytorch `{model_config['architecture']}` over the timm encoder "
        f"`{model_config['encoder']}` (`{model_config['encoder_kwargs']}`), {parameters:,} parameters\n"
        f"- Classes: {model_config['num_classes']} (`label_names` in config.json); label 255 is ignored\n"
        f"- Input: {model_config['input_size']} (channels, height, width), mean {model_config['mean']}, "
        f"std {model_config['std']}",
        result(meta, ("miou", "pixel_acc")),
        how_to_load(model_config, directory),
        "## Licence\n\n" + licence["text"],
        meta=meta,
    )


def what_data(meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    if meta["phase"] == PRETRAIN:
        return f"pre-trained on {data['family']} ({data['categories']} x {data['instances']} scenes, seed {data['seed']})"
    return f"fine-tuned on {data['dataset']}" + (f" (first {data['train_limit']} training images)"
                                                  if data.get("train_limit") else "")


def how_to_load(model_config: dict[str, Any], directory: Path) -> str:
    kwargs = {**model_config["decoder_kwargs"], **model_config["encoder_kwargs"]}
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return "\n".join([
        "## How to load (fdsl is not needed)", "", "```python", "import safetensors.torch",
        "import segmentation_models_pytorch as smp", "",
        f'model = smp.create_model("{model_config["architecture"]}", encoder_name="tu-{model_config["encoder"]}", '
        f'encoder_weights=None, classes={model_config["num_classes"]}{extra})',
        f'model.load_state_dict(safetensors.torch.load_file("{directory / "model.safetensors"}"))', "```"])
