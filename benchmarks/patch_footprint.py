"""How speckled FractalDB's patch images are: the lit fraction of the footprint, i.e. the lit pixels
over the pixels of the lit set's 3x3 dilation, per image.

    python benchmarks/patch_footprint.py                          # 100 images, the released settings
    python benchmarks/patch_footprint.py --set patch_mode=union   # the same images, masks ORed
    python benchmarks/patch_footprint.py --family ofdb --images 50

The official renderer pastes each point's whole 3x3 patch, zeros included, so later points clear
pixels that earlier ones lit: its released images light about 34-47% of their footprint (issue 27).
ORing the masks instead lights nearly all of it (solid shapes). Images: categories 0, 1, ... of
``--data-seed``, one instance each, spread over variations, patch draws and flips by a stride.

Prints the fraction's minimum, mean, median and maximum; ``--out`` also writes them as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fdsl.atomic import write_text_atomic
from fdsl.registry import formula_class, get_formula

#: Instance stride between consecutive categories: coprime with 1,000, so FractalDB's instances
#: spread over variations, patch draws and flips.
INSTANCE_STRIDE = 53


def footprint_fraction(image: np.ndarray) -> float:
    """Lit pixels / pixels within one pixel (3x3) of a lit pixel."""
    lit = (image if image.ndim == 2 else image.max(axis=-1)) > 0
    padded = np.pad(lit, 1)
    height, width = lit.shape
    dilated = np.zeros_like(lit)
    for dr in range(3):
        for dc in range(3):
            dilated |= padded[dr:dr + height, dc:dc + width]
    return float(lit.sum()) / max(int(dilated.sum()), 1)


def parse_overrides(family: str, pairs: list[str]) -> dict:
    """``key=value`` strings -> typed formula options (the config's own field types)."""
    types = formula_class(family).Config.field_types()
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"unknown option {key!r} of {family}; valid: {', '.join(sorted(types))}")
        kind = types[key]
        overrides[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return overrides


def measure(family: str, overrides: dict, images: int, seed: int) -> dict:
    formula = get_formula(family, **overrides)
    limit = formula.instances_per_category or 1
    fractions = []
    for category in range(images):
        params = formula.search_category(seed, category)
        instance = category * INSTANCE_STRIDE % limit
        fractions.append(footprint_fraction(formula.sample(params, seed, category, instance)))
    values = np.array(fractions)
    return {
        "family": family, "overrides": overrides, "config": formula.config.to_dict(), "images": images,
        "data_seed": seed, "min": values.min(), "mean": values.mean(), "median": float(np.median(values)),
        "max": values.max(), "fractions": values.round(4).tolist(),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="fractaldb", help="a family that renders FractalDB patches")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a formula option")
    p.add_argument("--images", type=int, default=100, help="images: categories 0..N-1, one instance each")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = p.parse_args(argv)
    result = measure(args.family, parse_overrides(args.family, args.set), args.images, args.data_seed)
    result["command"] = " ".join(["python benchmarks/patch_footprint.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"{args.family} {args.set or 'defaults'}: lit fraction of the 3x3 footprint over {args.images} images: "
          f"min {result['min']:.3f}, mean {result['mean']:.3f}, median {result['median']:.3f}, "
          f"max {result['max']:.3f}")
    if args.out is not None:
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
