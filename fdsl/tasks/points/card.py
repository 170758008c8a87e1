"""The short model card (``README.md``) beside point-cloud weights: the shared front matter
(:mod:`fdsl.train.model_card`), the model, its data, the result at the saved epoch, how to load it,
the licence and the provenance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fdsl.tasks import PRETRAIN
from fdsl.train.model_card import assemble, family_tag, front_matter, licence_of, result

PIPELINE_TAG = "point-cloud-classification"


def model_card(described: dict[str, Any], directory: Path, *, parameters: int) -> str:
    meta = described["fdsl"]
    config, licence = meta["config"], licence_of(meta)
    data = config["data"]
    trained_on = (f"pre-trained on `{data['family']}` ({data['categories']} categories x {data['instances']} "
                  "instances)" if meta["phase"] == PRETRAIN else f"fine-tuned on the point folder `{data['dataset']}`"
                  + (f" from `{config['init']}`" if config.get("init") else " from scratch"))
    return assemble(
        front_matter(library="fdsl", licence=licence, pipeline_tag=PIPELINE_TAG, tags=family_tag(meta)),
        f"# {described['architecture']} {trained_on}",
        f"## Model\n\n- Architecture: `{described['architecture']}` {described['model_args']}, "
        f"{parameters / 1e6:.2f}M parameters, {described['num_classes']} classes, {described['points']} points "
        f"per object (up axis {described['up_axis']})",
        result(meta, ("oa", "macc")),
        "## How to load\n\n```python\nfrom fdsl.tasks.points.weights import load_point_model\n"
        f'model = load_point_model("{directory}")  # input: {described["input"]}\n```',
        "## Licence\n\n" + licence["text"],
        meta=meta,
    )
