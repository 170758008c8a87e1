"""Figures of ``fdsl analyze``, one column (or colour) per model, shared colour scales."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fdsl.atomic import atomic_path

GAP = 1


def _save(figure, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")


def filter_mosaic(weights: np.ndarray, *, colour: bool, columns: int = 8, limit: int = 64) -> np.ndarray:
    """Up to ``limit`` filters as tiles: each filter scaled by its own largest magnitude, zero at
    mid-grey (RGB tiles for 3 input channels with ``colour``, else the channel mean in grey)."""
    weights = weights[:limit]
    tiles = weights.transpose(0, 2, 3, 1)  # (n, kh, kw, channels)
    if not colour or tiles.shape[-1] != 3:
        tiles = tiles.mean(axis=-1, keepdims=True).repeat(3, axis=-1)
    scale = np.abs(tiles).reshape(len(tiles), -1).max(axis=1)[:, None, None, None]
    tiles = 0.5 + 0.5 * tiles / np.where(scale > 0, scale, 1)
    n, kh, kw, _ = tiles.shape
    rows = -(-n // columns)
    mosaic = np.ones((rows * (kh + GAP) - GAP, columns * (kw + GAP) - GAP, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        mosaic[r * (kh + GAP):r * (kh + GAP) + kh, c * (kw + GAP):c * (kw + GAP) + kw] = tile
    return mosaic


def plot_filters(filters: dict[str, np.ndarray], path: Path, *, colour: bool) -> None:
    """First-layer filters, one panel per model."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed

    figure = Figure(figsize=(3.2 * len(filters), 2.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(filters)))
    for ax, (label, weights) in zip(axes, filters.items()):
        ax.imshow(filter_mosaic(weights, colour=colour), interpolation="nearest")
        ax.set_title(f"{label}\n{weights.shape[0]} filters {weights.shape[2]}x{weights.shape[3]}", fontsize=9)
        ax.axis("off")
    figure.suptitle("first-layer filters" + (" (RGB)" if colour else " (grey: mean over channels)"))
    _save(figure, path)


def plot_attention_maps(images: list[np.ndarray], maps: dict[str, dict[str, np.ndarray]], path: Path,
                        *, title: str) -> None:
    """Rows: images; columns: the image, then per model its [CLS] attention and rollout over the
    image. ``maps``: model -> {"cls": (B, H, W), "rollout": (B, H, W)}; one colour scale per image
    and kind, shared by the models (the maps are distributions over the patches)."""
    from matplotlib.figure import Figure

    kinds = ("cls", "rollout")
    columns = 1 + len(maps) * len(kinds)
    figure = Figure(figsize=(1.6 * columns, 1.7 * len(images) + 0.6), layout="constrained")
    axes = np.array(figure.subplots(len(images), columns, squeeze=False))
    for row, image in enumerate(images):
        axes[row, 0].imshow(image)
        for k, kind in enumerate(kinds):
            top = max(float(m[kind][row].max()) for m in maps.values())
            for j, (label, model_maps) in enumerate(maps.items()):
                ax = axes[row, 1 + j * len(kinds) + k]
                ax.imshow(image, extent=(0, 1, 1, 0))
                ax.imshow(model_maps[kind][row], cmap="inferno", alpha=0.7, vmin=0, vmax=top, extent=(0, 1, 1, 0),
                          interpolation="nearest")
                if row == 0:
                    ax.set_title(f"{label}\n{'[CLS] last layer' if kind == 'cls' else 'rollout'}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    figure.suptitle(title, fontsize=10)
    _save(figure, path)


def similarity_mosaic(similarity: np.ndarray) -> np.ndarray:
    """(H, W, H, W) similarities as one image: an H x W grid of H x W maps, NaN gaps between them."""
    h, w = similarity.shape[:2]
    mosaic = np.full((h * (h + GAP) - GAP, w * (w + GAP) - GAP), np.nan)
    for r in range(h):
        for c in range(w):
            mosaic[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = similarity[r, c]
    return mosaic


def plot_position_similarity(similarities: dict[str, np.ndarray], path: Path) -> None:
    """Per model, each patch's position-embedding cosine similarity to every patch (scale -1..1)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.4 * len(similarities) + 0.8, 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(similarities)))
    image = None
    for ax, (label, similarity) in zip(axes, similarities.items()):
        image = ax.imshow(similarity_mosaic(similarity), cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    figure.colorbar(image, ax=list(axes), shrink=0.8, label="cosine similarity")
    figure.suptitle("position embedding similarity (row, column of the patch)")
    _save(figure, path)


def plot_attention_distance(distances: dict[str, np.ndarray], path: Path) -> None:
    """Mean attention distance (pixels) of every head against the layer, one colour per model."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = figure.subplots()
    count = len(distances)
    for i, (label, values) in enumerate(distances.items()):  # values: (layers, heads)
        layers = np.arange(1, values.shape[0] + 1)
        offset = (i - (count - 1) / 2) * 0.12  # side by side within a layer
        x = np.repeat(layers, values.shape[1]) + offset
        ax.plot(x, values.ravel(), "o", markersize=4, alpha=0.8, color=f"C{i}", label=label)
    ax.set_xlabel("layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean attention distance (pixels)")
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("mean attention distance per head")
    _save(figure, path)
