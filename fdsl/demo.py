"""The README's main job on a small built-in default: search, render and look at a small FractalDB."""
from __future__ import annotations

from pathlib import Path

from fdsl.data.writer import render_dataset, search_categories
from fdsl.registry import get_formula
from fdsl.viz.gallery import formula_gallery, save_png

DEMO_CATEGORIES = 16
DEMO_INSTANCES = 20
DEMO_SEED = 0


def run_demo(out: Path, *, workers: int = 2) -> None:
    formula = get_formula("fractaldb")
    categories = search_categories(formula, DEMO_CATEGORIES, seed=DEMO_SEED, workers=workers)
    formula.write_categories(categories, out / "params")
    card = render_dataset(formula, categories, out / "FractalDB-16", seed=DEMO_SEED,
                          instances=DEMO_INSTANCES, workers=workers)
    gallery = formula_gallery(formula, categories[:8], seed=DEMO_SEED, instances=[0, 1, 2, 3, 105, 210])
    save_png(gallery, out / "gallery.png")
    print(f"rendered {card['images']} images to {out / 'FractalDB-16'}; gallery: {out / 'gallery.png'}")
