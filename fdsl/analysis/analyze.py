"""``fdsl analyze``: the figures and numbers of :mod:`fdsl.analysis.measures` for several models side
by side, on the same formula images (the first model's pre-training family, rendered on the fly)
and the same real images (the first image of the first classes of an ImageFolder).

Writes into ``out``: filters.png (RGB) and filters_grey.png, attention_<images>.png ([CLS]
attention and rollout), attention_distance_<images>.png, position_embedding.png and
analysis.json (models, figures, mean attention distance per layer and head in pixels, and what
did not apply to which model).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fdsl.analysis import measures
from fdsl.analysis.loading import LoadedModel, load_model
from fdsl.atomic import write_text_atomic
from fdsl.errors import check
from fdsl.viz import analysis as plots

ANALYSIS_FILE = "analysis.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DISPLAY_SIZE = 128


def formula_images(model: LoadedModel, *, count: int, family: str | None) -> tuple[str, list[np.ndarray]]:
    """``count`` samples (category c, instance 0) of the model's pre-training data, or of ``family``."""
    import dataclasses

    from fdsl.data.config import FormulaDataConfig
    from fdsl.data.datasets import load_categories
    from fdsl.registry import get_formula
    from fdsl.configs import from_dict

    saved = model.meta.get("data") if isinstance(model.meta.get("data"), dict) else None
    data = from_dict(FormulaDataConfig, saved) if saved and family in (None, saved.get("family")) \
        else FormulaDataConfig(family=family or "fractaldb", categories=count)
    data.validate()
    data = dataclasses.replace(data, categories=min(count, data.categories))
    formula = get_formula(data.family, **data.formula)
    categories = load_categories(formula, data)
    tiles = [formula.kind.tile(formula.sample(params, data.seed, c, 0), DISPLAY_SIZE)
             for c, params in enumerate(categories)]
    return data.family, tiles


def folder_images(root: str | Path, *, count: int) -> list[np.ndarray]:
    """The first image (sorted by name) of each of the first ``count`` class folders of an ImageFolder."""
    root = Path(root)
    check(root.is_dir(), f"images {str(root)!r} is not a folder (an ImageFolder: one folder per class)")
    images = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir())[:count]:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            with Image.open(files[0]) as image:
                images.append(np.asarray(image.convert("RGB").resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.BICUBIC)))
    check(bool(images), f"images {str(root)!r} holds no class folder with an image")
    return images


def to_batch(images: list[np.ndarray], model: LoadedModel) -> torch.Tensor:
    """Resize to the model's input size and normalise with its mean and std."""
    size = (model.img_size, model.img_size)
    arrays = [np.asarray(Image.fromarray(i).resize(size, Image.BICUBIC), dtype=np.float32) / 255 for i in images]
    batch = (np.stack(arrays) - np.array(model.mean, dtype=np.float32)) / np.array(model.std, dtype=np.float32)
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def attention_section(name: str, images: list[np.ndarray], vits: list[LoadedModel], out: Path,
                      report: dict) -> None:
    """attention_<name>.png and attention_distance_<name>.png; the distances go into ``report``."""
    maps, distances = {}, {}
    for model in vits:
        net = model.model
        prefix, grid = measures.prefix_tokens(net), measures.grid_size(net)
        attention = measures.capture_attention(net, to_batch(images, model))
        maps[model.label] = {"cls": measures.cls_attention(attention, prefix, grid).numpy(),
                             "rollout": measures.attention_rollout(attention, prefix, grid).numpy()}
        distances[model.label] = measures.mean_attention_distance(attention, prefix, grid, measures.patch_size(net))
    plots.plot_attention_maps(images, maps, out / f"attention_{name}.png", title=f"attention over {name} images")
    plots.plot_attention_distance(distances, out / f"attention_distance_{name}.png")
    report["figures"] += [f"attention_{name}.png", f"attention_distance_{name}.png"]
    report["mean_attention_distance_px"][name] = {k: np.round(v.astype(float), 3).tolist() for k, v in distances.items()}


def filters_section(models: list[LoadedModel], out: Path, report: dict) -> None:
    filters = {m.label: measures.first_layer_filters(m.model) for m in models}
    for label in [k for k, v in filters.items() if v is None]:
        report["not_applicable"].append(f"{label}: no convolution on the image, no first-layer filters")
    filters = {k: v for k, v in filters.items() if v is not None}
    if filters:
        plots.plot_filters(filters, out / "filters.png", colour=True)
        plots.plot_filters(filters, out / "filters_grey.png", colour=False)
        report["figures"] += ["filters.png", "filters_grey.png"]


def position_section(models: list[LoadedModel], out: Path, report: dict) -> None:
    similarities = {}
    for model in models:
        similarity = measures.position_similarity(model.model)
        if similarity is None:
            report["not_applicable"].append(f"{model.label}: no learned absolute position embedding")
        else:
            similarities[model.label] = similarity
    if similarities:
        plots.plot_position_similarity(similarities, out / "position_embedding.png")
        report["figures"].append("position_embedding.png")


def analyze(sources: Sequence[str], out: str | Path, *, labels: Sequence[str] | None = None,
            real_images: str | Path | None = None, family: str | None = None, count: int = 4) -> dict:
    """Analyse every model in ``sources`` side by side into ``out``; returns analysis.json's content."""
    check(len(sources) >= 1, "analyze needs at least one model")
    check(count >= 1, f"count = {count}; allowed: >= 1")
    check(labels is None or len(labels) == len(sources), f"{len(labels or [])} labels for {len(sources)} models")
    real = folder_images(real_images, count=count) if real_images is not None else None  # bad folder: fail first
    models = [load_model(s, l) for s, l in zip(sources, labels or [None] * len(sources))]
    names = [m.label for m in models]
    check(len(set(names)) == len(names), f"model labels must be distinct: {names}; pass --label for each")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"models": [{"label": m.label, "source": m.source, "architecture": m.architecture,
                          "img_size": m.img_size, "attention": measures.has_attention_maps(m.model)} for m in models],
              "figures": [], "not_applicable": [], "mean_attention_distance_px": {}}
    filters_section(models, out, report)
    position_section(models, out, report)
    vits = [m for m in models if measures.has_attention_maps(m.model)]
    report["not_applicable"] += [f"{m.label}: no ViT self-attention, no attention maps or distances"
                                 for m in models if m not in vits]
    if vits:
        family_name, images = formula_images(models[0], count=count, family=family)
        report["formula_family"] = family_name
        attention_section("formula", images, vits, out, report)
        if real is not None:
            attention_section("real", real, vits, out, report)
            report["real_images"] = str(real_images)
    write_text_atomic(out / ANALYSIS_FILE, json.dumps(report, indent=1))
    return report
