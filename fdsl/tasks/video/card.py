"""The short model card (``README.md``) beside video weights: the shared front matter
(:mod:`fdsl.train.model_card`), the model and its input, its data, the result at the saved epoch, how
to load it, the licence and the provenance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fdsl.tasks import PRETRAIN
from fdsl.train.model_card import assemble, family_tag, front_matter, licence_of, result

PIPELINE_TAG = "video-classification"


def trained_on(meta: dict[str, Any]) -> str:
    config = meta["config"]
    data = config["data"]
    if meta["phase"] == PRETRAIN:
        return f"pre-trained on `{data['family']}` ({data['categories']} categories x {data['instances']} instances)"
    start = f" from `{config['init']}`" if config.get("init") else " from scratch"
    return f"fine-tuned on the video folder `{data['dataset']}`{start}"


def model_card(described: dict[str, Any], directory: Path, *, parameters: int) -> str:
    meta = described["fdsl"]
    licence = licence_of(meta)
    return assemble(
        front_matter(library="fdsl", licence=licence, pipeline_tag=PIPELINE_TAG, tags=family_tag(meta)),
        f"# {described['architecture']} {trained_on(meta)}",
        f"## Model\n\n- Architecture: `{described['architecture']}` (a torchvision video ResNet) "
        f"{described['model_args']}, {parameters / 1e6:.2f}M parameters, {described['num_classes']} classes\n"
        f"- Input: {described['input']} (mean {described['mean']}, std {described['std']})",
        result(meta, ("top1", "macc")),
        "## How to load\n\n```python\nfrom fdsl.tasks.video.weights import load_video_model\n"
        f'model = load_video_model("{directory}")\n```',
        "## Licence\n\n" + licence["text"],
        meta=meta,
    )
