"""3-D IFS fractals drawn the official way, shared by the 3-D families' references: a Python loop
over points for the chaos game, plain min-max and centroid, and one projection per point.

Written from the algorithm's description (Yamada et al., MV-FractalDB, IROS 2021 / PC-FractalDB,
CVPR 2022; the facts in shared/reference/FORMULAS.md), not from the official code:

1. Variation: multiply a..l of every map by the variation's row (identity, or one of the 12
   parameters by 0.4 .. 0.9, 1.1 .. 1.6); p is kept.
2. Chaos game from (0, 0, 0), the start not recorded: draw u ~ U[0, 1), take the first map whose
   cumulative probability exceeds u, apply it, append the point; a non-finite point is dropped
   and the orbit restarts at the origin.
3. Normalise all coordinates together to [-1, 1] with one min and max, subtract the centroid.
4. Project each point with a perspective camera (45 degree field of view, distance 4, looking at
   the origin from (azimuth, elevation)) and paint its pixel white. The official code does this
   step in OpenGL; a per-point loop is its plain equivalent.

The uniform draws are made in bulk, as the official chaos game does; everything else is per point.
"""
from __future__ import annotations

import math

import numpy as np

FACTORS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)


def variation_row(variation: int) -> list[float]:
    """Row 0 is the identity; row 1 + 12 p + k scales parameter p by FACTORS[k]."""
    row = [1.0] * 12
    if variation > 0:
        parameter, k = divmod(variation - 1, len(FACTORS))
        row[parameter] = FACTORS[k]
    return row


def chaos_game(maps: list[list[float]], probabilities: list[float], n_points: int, rng) -> list[tuple]:
    total = sum(probabilities)
    cumulative, running = [], 0.0
    for p in probabilities:
        running += p / total
        cumulative.append(running)
    x = y = z = 0.0
    points = []
    for u in rng.random(n_points).tolist():
        chosen = maps[-1]
        for edge, w in zip(cumulative, maps):
            if u < edge:
                chosen = w
                break
        a, b, c, d, e, f, g, h, i, j, k, l = chosen
        x, y, z = a * x + b * y + c * z + j, d * x + e * y + f * z + k, g * x + h * y + i * z + l
        if math.isfinite(x) and math.isfinite(y) and math.isfinite(z):
            points.append((x, y, z))
        else:
            x = y = z = 0.0
    return points


def normalise(points: list[tuple]) -> list[tuple]:
    low = min(min(p) for p in points)
    high = max(max(p) for p in points)
    scale = 2.0 / (high - low) if high > low else 0.0
    scaled = [tuple((v - low) * scale - 1.0 for v in p) for p in points]
    n = len(scaled)
    centre = [sum(p[axis] for p in scaled) / n for axis in range(3)]
    return [(x - centre[0], y - centre[1], z - centre[2]) for x, y, z in scaled]


def project(points: list[tuple], azimuth: float, elevation: float, size: int, distance: float, fov: float,
            point_size: int) -> np.ndarray:
    az, el = math.radians(azimuth), math.radians(elevation)
    eye = (distance * math.cos(el) * math.sin(az), distance * math.sin(el), distance * math.cos(el) * math.cos(az))
    forward = tuple(-v / distance for v in eye)
    right = (math.cos(az), 0.0, -math.sin(az))
    up = (right[1] * forward[2] - right[2] * forward[1], right[2] * forward[0] - right[0] * forward[2],
          right[0] * forward[1] - right[1] * forward[0])
    focal = 1.0 / math.tan(math.radians(fov) / 2)
    image = np.zeros((size, size), dtype=np.uint8)
    lo = (point_size - 1) // 2
    for p in points:
        v = (p[0] - eye[0], p[1] - eye[1], p[2] - eye[2])
        depth = v[0] * forward[0] + v[1] * forward[1] + v[2] * forward[2]
        if not 0.1 < depth < 100.0:
            continue
        ndc_x = (v[0] * right[0] + v[1] * right[1] + v[2] * right[2]) * focal / depth
        ndc_y = (v[0] * up[0] + v[1] * up[1] + v[2] * up[2]) * focal / depth
        col = math.floor((ndc_x + 1.0) * size / 2)
        row = math.floor((1.0 - ndc_y) * size / 2)
        if 0 <= col < size and 0 <= row < size:
            image[max(row - lo, 0):row - lo + point_size, max(col - lo, 0):col - lo + point_size] = 255
    return image


def render_view(config, params: np.ndarray, variation: int, azimuth: float, elevation: float, rng) -> np.ndarray:
    row = variation_row(variation)
    maps = [[v * m for v, m in zip(w, row)] for w in params[:, :12].tolist()]
    points = chaos_game(maps, params[:, 12].tolist(), config.points, rng)
    if not points:
        return np.zeros((config.size, config.size), dtype=np.uint8)
    return project(normalise(points), azimuth, elevation, config.size, config.distance, config.fov,
                   config.point_size)
