"""Frozen-layer fine-tuning: the first K stages frozen, or a linear probe (only the classifier trains).

A *stage* is a group of timm's coarse ``model.group_matcher`` (the grouping timm's layer-wise
learning-rate decay uses), so one definition serves every architecture timm groups:

- group 0 is the stem, frozen with any K >= 1: for a ViT the patch embedding, the position
  embedding and the class/register tokens; for a ResNet ``conv1``/``bn1``;
- stage k (1..K) is the k-th following group that holds no classifier weight: ViT block k-1
  (``blocks.{k-1}``), ResNet ``layer{k}``; ConvNeXt, EfficientNet, ... their own stages.

``freeze: K`` freezes the stem and stages 1..K (the papers' "freeze conv1..convK" table for a
ResNet, with conv1 = the stem: K = 0 freezes nothing). ``linear_probe`` freezes every parameter but
the classifier's. Frozen parameters get ``requires_grad = False``; timm's optimiser factory leaves
them out of the optimiser (``param_groups_weight_decay`` skips them), so they never change, weight
decay included. BatchNorm running statistics of frozen stages still follow the training images
(only the parameters are frozen).
"""
from __future__ import annotations

from torch import nn

from fdsl.errors import check
from fdsl.tasks.classification.models import head_prefixes


def stage_groups(model: nn.Module) -> dict[int, list[str]]:
    """Parameter names by stage: 0 = stem, 1..N = the stages, in order (classifier groups left out)."""
    from timm.models import group_parameters

    matcher = getattr(model, "group_matcher", None)
    check(matcher is not None, f"{type(model).__name__} has no timm group_matcher: its stages are undefined, "
                               "so it cannot be fine-tuned with frozen stages (a linear probe still works)")
    heads = head_prefixes(model)
    groups = group_parameters(model, matcher(coarse=True))
    body = [names for _, names in sorted(groups.items()) if not any(n.startswith(heads) for n in names)]
    return dict(enumerate(body))


def freeze_stages(model: nn.Module, stages: int) -> list[str]:
    """Freeze the stem and the first ``stages`` stages; returns the names of the frozen parameters."""
    if stages == 0:
        return []
    groups = stage_groups(model)
    available = len(groups) - 1
    check(0 <= stages <= available, f"freeze = {stages}; allowed: 0..{available} (the stages of "
                                    f"{type(model).__name__}: {_describe(groups)})")
    names = [name for k in range(stages + 1) for name in groups[k]]
    return _freeze(model, set(names))


def freeze_all_but_head(model: nn.Module) -> list[str]:
    """The linear probe: every parameter frozen except the classifier's."""
    heads = head_prefixes(model)
    check(bool(heads), f"{type(model).__name__} names no classifier in its pretrained_cfg; no linear probe")
    return _freeze(model, {n for n, _ in model.named_parameters() if not n.startswith(heads)})


def apply_freezing(model: nn.Module, *, freeze: int, linear_probe: bool) -> list[str]:
    """What :class:`fdsl.tasks.classification.config.FinetuneConfig` asks for (``linear_probe`` wins over ``freeze``)."""
    return freeze_all_but_head(model) if linear_probe else freeze_stages(model, freeze)


def _freeze(model: nn.Module, names: set[str]) -> list[str]:
    frozen = []
    for name, parameter in model.named_parameters():
        if name in names:
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen


def _describe(groups: dict[int, list[str]]) -> str:
    return ", ".join(f"{k}: {groups[k][0].rsplit('.', 1)[0]}..." for k in list(groups)[:6]) + \
        (", ..." if len(groups) > 6 else "")
