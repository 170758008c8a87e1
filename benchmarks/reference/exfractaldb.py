"""ExFractalDB the official way (see ``ifs3d_views``): variation ``instance % 145`` seen from a random
viewpoint (azimuth uniform, sin(elevation) uniform in the allowed band)."""
from __future__ import annotations

import math

import numpy as np

from .ifs3d_views import render_view

FAMILY = "exfractaldb"


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    azimuth = rng.uniform(0.0, 360.0)
    bound = math.sin(math.radians(c.max_elevation))
    elevation = math.degrees(math.asin(rng.uniform(-bound, bound)))
    return render_view(c, params, instance % 145, azimuth, elevation, rng)
