"""The analysis itself, on tensors: attention captured from timm's ViT blocks, [CLS] attention,
attention rollout, mean attention distance, position-embedding similarity, first-layer filters.

Attention is read from timm's ``Attention`` modules: with ``fused_attn`` off they compute the
softmax explicitly and pass it through ``attn_drop`` (identity in eval mode), whose forward hook
sees the (B, heads, N, N) attention probabilities; the fused kernel is restored afterwards.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """timm's ViT self-attention modules of ``model``, in order (empty for a CNN)."""
    from timm.models.vision_transformer import Attention

    return [m for m in model.modules() if isinstance(m, Attention)]


def has_attention_maps(model: nn.Module) -> bool:
    """A ViT with a patch grid and absolute tokens: what the attention analysis needs."""
    return bool(attention_modules(model)) and hasattr(getattr(model, "patch_embed", None), "grid_size")


@contextlib.contextmanager
def _capture(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    maps: list[torch.Tensor] = []
    modules = attention_modules(model)
    fused = [m.fused_attn for m in modules]
    handles = [m.attn_drop.register_forward_hook(lambda _m, inputs, _out: maps.append(inputs[0].detach()))
               for m in modules]
    for module in modules:
        module.fused_attn = False
    try:
        yield maps
    finally:
        for module, value, handle in zip(modules, fused, handles):
            module.fused_attn = value
            handle.remove()


@torch.no_grad()
def capture_attention(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(layers, B, heads, N, N) attention probabilities of ``model`` on normalised ``images``."""
    with _capture(model) as maps:
        model.eval()(images)
    return torch.stack(maps)


def prefix_tokens(model: nn.Module) -> int:
    return int(getattr(model, "num_prefix_tokens", 1))


def grid_size(model: nn.Module) -> tuple[int, int]:
    return tuple(int(v) for v in model.patch_embed.grid_size)


def cls_attention(attention: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, H, W): the last layer's attention of the first token ([CLS]) to the patches, averaged
    over heads and renormalised over the patches (each map sums to 1)."""
    row = attention[-1].mean(dim=1)[:, 0, prefix:]
    return (row / row.sum(dim=-1, keepdim=True)).reshape(-1, *grid)


def attention_rollout(attention: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, H, W): attention rollout (Abnar & Zuidema, ACL 2020, eq. 1): per layer the head-averaged
    attention plus the identity for the residual, 0.5 A + 0.5 I, rows renormalised, multiplied from
    the first layer to the last; the [CLS] row over the patches, renormalised to sum to 1."""
    layers, batch, _, tokens, _ = attention.shape
    rollout = torch.eye(tokens).expand(batch, tokens, tokens)
    for layer in range(layers):
        mixed = 0.5 * attention[layer].mean(dim=1) + 0.5 * torch.eye(tokens)
        rollout = (mixed / mixed.sum(dim=-1, keepdim=True)) @ rollout
    row = rollout[:, 0, prefix:]
    return (row / row.sum(dim=-1, keepdim=True)).reshape(-1, *grid)


def mean_attention_distance(attention: torch.Tensor, prefix: int, grid: tuple[int, int],
                            patch_size: int) -> np.ndarray:
    """(layers, heads) mean attention distance in pixels (Dosovitskiy et al., ICLR 2021, fig. 7;
    the FractalDB-ViT and VisualAtom papers' per-head plots): for each patch query, the distance
    between its patch centre and every patch key, weighted by the attention (renormalised over the
    patch keys, prefix tokens left out), averaged over queries and images."""
    rows, cols = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    centres = torch.tensor(np.stack([rows.ravel(), cols.ravel()], axis=1), dtype=torch.float32) * patch_size
    distance = torch.cdist(centres, centres)  # (P, P) pixels between patch centres
    patches = attention[..., prefix:, prefix:]  # (layers, B, heads, P, P)
    weights = patches / patches.sum(dim=-1, keepdim=True)
    per_query = (weights * distance).sum(dim=-1)  # (layers, B, heads, P)
    return per_query.mean(dim=(1, 3)).numpy()


def position_similarity(model: nn.Module) -> np.ndarray | None:
    """(H, W, H, W) cosine similarity between the learned position embeddings of every pair of
    patches (Dosovitskiy et al., ICLR 2021, fig. 7 centre); None without an absolute embedding."""
    pos = getattr(model, "pos_embed", None)
    if not isinstance(pos, torch.Tensor) or not hasattr(getattr(model, "patch_embed", None), "grid_size"):
        return None
    grid = grid_size(model)
    tokens = pos.detach()[0]
    tokens = tokens[tokens.shape[0] - grid[0] * grid[1]:]  # prefix tokens (when embedded) come first
    unit = torch.nn.functional.normalize(tokens, dim=-1)
    return (unit @ unit.T).reshape(*grid, *grid).numpy()


def first_layer_filters(model: nn.Module) -> np.ndarray | None:
    """(out, in, kh, kw) weights of the first convolution on the image (ViT: the patch embedding;
    CNN: conv1); None when the model has none."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.in_channels in (1, 3):
            return module.weight.detach().float().numpy()
    return None


def patch_size(model: nn.Module) -> int:
    return int(model.patch_embed.patch_size[0])
