"""A software perspective rasteriser of point clouds: the official 3-D fractal renderer's camera
(OpenGL through EGL in ryosuke-yamada/3dfractaldb, image_render/render.py) without OpenGL.
"""
from __future__ import annotations

import numba
import numpy as np

#: Depth range kept by the camera (the MV-FractalDB renderer's zNear, zFar).
NEAR, FAR = 0.1, 100.0


@numba.njit(cache=True)
def rasterise(points, kept, camera, focal, point_size, image):
    """Draw each point as a ``point_size`` square of 255 where the perspective camera sees it.

    ``camera`` rows: position, right, up, forward; ``focal`` = 1 / tan(fov / 2). Points outside
    the (NEAR, FAR) depth range or the image are skipped: nothing is written out of bounds.
    Two passes (project every point, then paint): the first has no stores to the image, which
    makes it about a third faster.
    """
    size = image.shape[0]
    half = 0.5 * size
    bound = float(size)
    px, py, pz = camera[0, 0], camera[0, 1], camera[0, 2]
    rx, ry, rz = camera[1, 0], camera[1, 1], camera[1, 2]
    ux, uy, uz = camera[2, 0], camera[2, 1], camera[2, 2]
    fx, fy, fz = camera[3, 0], camera[3, 1], camera[3, 2]
    xs, ys, zs = points[0], points[1], points[2]
    pixels = np.empty(kept, dtype=np.int64)  # row * size + column, or -1 when not visible
    for k in range(kept):
        vx = xs[k] - px
        vy = ys[k] - py
        vz = zs[k] - pz
        depth = vx * fx + vy * fy + vz * fz
        s = focal * half / depth
        sx = half + (vx * rx + vy * ry + vz * rz) * s  # image x grows to the right
        sy = half - (vx * ux + vy * uy + vz * uz) * s  # image rows grow downwards, +y is up
        visible = (NEAR < depth) & (depth < FAR) & (0.0 <= sx) & (sx < bound) & (0.0 <= sy) & (sy < bound)
        pixels[k] = np.int64(sy) * size + np.int64(sx) if visible else -1
    if point_size == 1:
        flat = image.reshape(size * size)  # a view: ``image`` is C-contiguous
        for k in range(kept):
            if pixels[k] >= 0:
                flat[pixels[k]] = 255
        return
    lo = (point_size - 1) // 2
    for k in range(kept):
        if pixels[k] < 0:
            continue
        r0, c0 = divmod(pixels[k], size)
        for r in range(max(r0 - lo, 0), min(r0 - lo + point_size, size)):
            for c in range(max(c0 - lo, 0), min(c0 - lo + point_size, size)):
                image[r, c] = 255
