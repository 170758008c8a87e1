"""The short model card (``README.md``) beside detection weights: the shared front matter
(``pipeline_tag: object-detection``, :mod:`fdsl.train.model_card`), the detector, the data, the COCO
scores at the saved epoch, how to load it with torchvision and timm, the licence and the provenance."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fdsl.tasks import PRETRAIN
from fdsl.train.model_card import assemble, family_tag, front_matter, licence_of, result

PIPELINE_TAG = "object-detection"
NAMES = {"faster_rcnn": "Faster R-CNN", "mask_rcnn": "Mask R-CNN"}
#: The scores a card shows when they were measured (mask ones only for a Mask R-CNN).
SHOWN = ("box_ap", "box_ap50", "box_ap75", "mask_ap", "mask_ap50", "mask_ap75")


def model_card(weights_config: dict[str, Any], directory: Path, *, parameters: int) -> str:
    meta = weights_config["fdsl"]
    model = weights_config["model"]
    licence = licence_of(meta)
    row = meta["metrics"]
    shown = tuple(m for m in SHOWN if m == "box_ap" or not _missing(row.get(f"val_{m}")))
    return assemble(
        front_matter(library="torchvision", licence=licence, pipeline_tag=PIPELINE_TAG,
                     tags=["torchvision", "timm", *family_tag(meta)]),
        f"# {NAMES[model['name']]} / {model['backbone']}: {what_data(meta)}\n\n"
        f"Weights saved by fdsl after epoch {meta['epoch']} of {meta['config']['train']['epochs']}.",
        "## Model\n\n"
        f"- torchvision {NAMES[model['name']]} with an FPN ({model['fpn_channels']} channels) over the timm backbone "
        f"`{model['backbone']}` (`{model['backbone_kwargs']}`), {parameters:,} parameters\n"
        f"- Classes: {weights_config['num_classes'] - 1} and the background (label 0; `label_names` in config.json)\n"
        f"- Input: RGB in [0, 1], resized by the detector to a shorter side of {weights_config['input_size'][0]} px "
        f"(longer at most {weights_config['input_size'][1]}), normalised with mean {weights_config['mean']}, std "
        f"{weights_config['std']}",
        result(meta, shown),
        how_to_load(weights_config, directory),
        "## Licence\n\n" + licence["text"],
        meta=meta,
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def what_data(meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    if meta["phase"] == PRETRAIN:
        return f"pre-trained on {data['family']} ({data['categories']} x {data['instances']} scenes, seed {data['seed']})"
    classes = ", ".join(data.get("classes") or []) or "all classes"
    return f"fine-tuned on {data['dataset']} ({data['labels']}, {classes})"


def how_to_load(weights_config: dict[str, Any], directory: Path) -> str:
    model = weights_config["model"]
    min_size, max_size = weights_config["input_size"]
    detector = "MaskRCNN" if model["name"] == "mask_rcnn" else "FasterRCNN"
    return "\n".join([
        "## How to load", "", "With fdsl:", "", "```python", "from fdsl.tasks import get_task",
        "from fdsl.train.checkpoint import load_weights", "",
        f'model = get_task("detection").load_model(load_weights("{directory}"))',
        "detections = model([image])  # image: float (3, H, W) in [0, 1]", "```", "",
        f"Without it: torchvision's `{detector}` with `min_size={min_size}, max_size={max_size}`, anchors "
        f"{model['anchor_sizes']} x ratios {model['aspect_ratios']}, a `TwoMLPHead({model['fpn_channels']} * 7 * 7, "
        f"{model['representation_size']})`"
        + (f", `MaskRCNNHeads({model['fpn_channels']}, ({model['mask_channels']},) * 4, 1)`" if detector == "MaskRCNN"
           else "")
        + f" and the keywords `{model['detector_kwargs']}`, over a backbone module whose `body` is "
        f"`timm.create_model(\"{model['backbone']}\", features_only=True, out_indices=4, **{model['backbone_kwargs']})` "
        f"and whose `fpn` is `torchvision.ops.FeaturePyramidNetwork(body.feature_info.channels(), "
        f"{model['fpn_channels']}, extra_blocks=LastLevelMaxPool())` over the body's four outputs named "
        '"0".."3"; then `model.load_state_dict(safetensors.torch.load_file("model.safetensors"))`.'])
