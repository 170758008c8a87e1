"""A mixture the slow way: each category is drawn by its member family's reference module
(``benchmarks/reference/<family>.py``), then brought to the mixture's size and mode."""
from __future__ import annotations

import importlib

import numpy as np

FAMILY = "mixture"


def render(formula, params, instance: int, rng: np.random.Generator) -> np.ndarray:
    try:
        member_reference = importlib.import_module(f"{__package__}.{params.family}")
    except ModuleNotFoundError:
        raise ValueError(f"no reference for mixture member {params.family!r}") from None
    image = member_reference.render(formula.members[params.family], params.params, instance, rng)
    return formula.conform(image)
