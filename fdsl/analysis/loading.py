"""Models to analyse, from fdsl run folders, weights folders or files, ``local-dir:`` folders, or
timm model names whose pretrained weights are already on this machine."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import nn

from fdsl.errors import FdslError, check


@dataclasses.dataclass
class LoadedModel:
    """A model in eval mode with its preprocessing (timm's pretrained_cfg) and, for fdsl
    pre-training weights, the formula data it was trained on."""

    label: str
    source: str
    model: nn.Module
    img_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: ``fdsl`` metadata of the weights' config.json (pre-training: ``data`` is the FormulaDataConfig).
    meta: dict[str, Any]

    @property
    def architecture(self) -> str:
        return str(self.model.pretrained_cfg.get("architecture") or type(self.model).__name__)


def default_label(source: str) -> str:
    path = Path(source.removeprefix("local-dir:"))
    if path.name in ("last", "best") or path.suffix == ".safetensors":
        path = path.parent
    return path.name or source


def load_model(source: str, label: str | None = None) -> LoadedModel:
    """A run folder (its last/), a weights folder or ``.safetensors`` file with timm's config.json,
    ``local-dir:FOLDER``, or a timm model name with pretrained weights in the local cache."""
    if source.startswith("local-dir:"):
        model = _timm_pretrained(source)
    elif Path(source).exists():
        model, meta = _fdsl_weights(source)
        return _loaded(model, source, label, meta)
    else:
        import timm

        check(timm.is_model(source.partition(".")[0]),
              f"{source!r} is neither a run folder, a weights folder or file, local-dir:FOLDER, nor a timm model name")
        model = _timm_pretrained(source)
    return _loaded(model, source, label, {})


def _loaded(model: nn.Module, source: str, label: str | None, meta: dict[str, Any]) -> LoadedModel:
    cfg = model.pretrained_cfg
    return LoadedModel(label=label or default_label(source), source=source, model=model.eval(),
                       img_size=int(cfg.get("input_size", (3, 224, 224))[-1]),
                       mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                       std=tuple(cfg.get("std", (0.229, 0.224, 0.225))), meta=meta)


def _fdsl_weights(source: str) -> tuple[nn.Module, dict[str, Any]]:
    import timm

    from fdsl.train.checkpoint import load_weights

    weights = load_weights(source)
    check(weights.config is not None,
          f"checkpoint {str(weights.path)!r} has no config.json beside it: its architecture is unknown")
    config = weights.config
    task = (config.get("fdsl") or {}).get("task", "")
    check(timm.is_model(str(config.get("architecture"))),
          f"checkpoint {str(weights.path)!r} holds a {config.get('architecture')!r} model"
          f"{f' ({task})' if task else ''}, not a timm image classifier: the analysis reads timm classifiers")
    kwargs = {k: v for k, v in (config.get("model_args") or {}).items() if k != "num_classes"}
    model = timm.create_model(config["architecture"], num_classes=int(config["num_classes"]), **kwargs,
                              pretrained_cfg_overlay=dict(config.get("pretrained_cfg") or {}))
    from fdsl.tasks.classification.models import without_projection

    try:
        model.load_state_dict(without_projection(model, weights.state_dict))
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    return model, dict(config.get("fdsl") or {})


def _timm_pretrained(name: str) -> nn.Module:
    import timm

    try:
        return timm.create_model(name, pretrained=True)
    except Exception as error:  # hub, file and format errors of many kinds: one line whatever they are
        raise FdslError(f"could not load the pretrained weights of {name!r} "
                        f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
