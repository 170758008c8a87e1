"""What each arm of a study pre-trains on, as its model sees it: a few categories x instances of every
variant's data, resized to the model's input size as its evaluation transform does (a 64 px render
becomes 32 px with PIL's antialiasing bilinear filter), each picture enlarged without smoothing.

    python studies/zoo_galleries.py studies/zoo-cpu.yaml docs/zoo-cpu/galleries.png
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fdsl.data.datasets import formula_datasets
from fdsl.experiments.study import load_study, pretrain_configs

CATEGORIES, INSTANCES, ZOOM, GAP, LABEL = 4, 4, 3, 4, 14


def arm_tiles(config) -> list[list[Image.Image]]:
    """CATEGORIES rows of INSTANCES pictures of the arm's training data at the model's input size."""
    data = config.data
    if data.data_dir is None:
        data = dataclasses.replace(data, categories=CATEGORIES, repeats=1, instances_per_epoch=None,
                                   instances=min(data.instances, INSTANCES), val_instances=0)
    train, _, _ = formula_datasets(data)
    base = getattr(train, "split", train)
    targets = getattr(base, "targets", None)
    size = config.augment.img_size
    rows = []
    for category in range(CATEGORIES):
        if targets is None:
            per = len(train) // data.categories
            indices = [category * per + i for i in range(min(per, INSTANCES))]
        else:
            indices = [i for i, t in enumerate(targets) if t == category][:INSTANCES]
        rows.append([base[i][0].convert("RGB").resize((size, size), Image.BILINEAR) for i in indices])
    return rows


def gallery(arms: dict[str, list[list[Image.Image]]]) -> Image.Image:
    size = next(iter(arms.values()))[0][0].width * ZOOM
    block_w = INSTANCES * (size + 1)
    block_h = CATEGORIES * (size + 1) + LABEL
    columns = 4
    rows = -(-len(arms) // columns)
    canvas = Image.new("RGB", (columns * (block_w + GAP), rows * (block_h + GAP)), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (name, tiles) in enumerate(arms.items()):
        x, y = (k % columns) * (block_w + GAP), (k // columns) * (block_h + GAP)
        draw.text((x + 2, y + 1), name, fill="black")
        for r, row in enumerate(tiles):
            for c, tile in enumerate(row):
                big = tile.resize((size, size), Image.NEAREST)
                canvas.paste(big, (x + c * (size + 1), y + LABEL + r * (size + 1)))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("out")
    args = parser.parse_args()
    configs = pretrain_configs(load_study(args.study))
    picture = gallery({name: arm_tiles(config) for name, config in configs.items()})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out)
    print(f"wrote {args.out} ({len(configs)} arms, {np.prod(picture.size)} px)")


if __name__ == "__main__":
    main()
