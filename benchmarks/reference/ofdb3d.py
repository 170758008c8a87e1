"""3D-OFDB the official way (see ``ifs3d_views``): the identity model from azimuth ``instance * 360 / views``."""
from __future__ import annotations

import numpy as np

from .ifs3d_views import render_view

FAMILY = "ofdb3d"


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    return render_view(c, params, 0, instance * 360.0 / c.views, 0.0, rng)
