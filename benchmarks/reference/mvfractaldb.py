"""MV-FractalDB the official way (see ``ifs3d_views``): variation ``instance // views`` from azimuth
``(instance % views) * 360 / views``, elevation 0; each view recomputes its model, as one call
of the official renderer per image would."""
from __future__ import annotations

import numpy as np

from .ifs3d_views import render_view

FAMILY = "mvfractaldb"


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    variation, view = divmod(instance, c.views)
    return render_view(c, params, variation, view * 360.0 / c.views, 0.0, rng)
