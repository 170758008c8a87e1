"""Video Perlin Noise (VPN): grey clips of 3-D Perlin noise over (x, y, t), a category per frequency setting.

Source: Kataoka et al., "Spatiotemporal Initialization for 3D CNNs with Generated Motion
Patterns", WACV 2022 (project page hirokatsukataoka16/Spatiotemporal-Initialization-for-3DCNNs;
no code was published). What the paper and its page establish: each video is a dynamic random
texture of Perlin noise over (x, y, t); the categories are defined by the noise's frequencies in
space and time (the page's sample names ``x001_y001`` ... ``x024_y024`` suggest a grid of per-axis
frequencies); there is a low-frequency and a high-frequency variant, and the low one pre-trained
3D ResNets better. Unpublished, so every number below is ours: the grid (its axes and values, so
the category count), frames per clip, resolution, the temporal frequencies, the octaves.

A category is a cell of the grid frequency_x x frequency_y x frequency_t
(:mod:`fdsl.formulas.grid`, the last axis varying fastest): frequency_x and frequency_y are
lattice cells of the noise across the frame's width and height (both take the spatial values, so
a cell may be stretched along x or y), frequency_t is lattice cells over the clip's frames. Both
are per frame size and per clip, so ``size`` and ``frames`` change the sampling, not the look:
a clip of 32 frames shows the motion of 16 at twice the frame rate.

- ``variant=low`` (the default, the paper's better one): spatial {1, 2, 3, 4} x spatial x temporal
  {0.5, 1, 2, 4} = 64 categories; from one cell per frame, changing over the whole clip, to 4 x 4
  cells per frame, replaced every 2 frames or so.
- ``variant=high``: spatial {4, 8, 12, 16} x temporal {2, 4, 8, 16} = 64 categories: fine grain,
  up to a new texture every frame (the two variants share spatial 4 and temporal 2 and 4).
- ``spatial_frequencies`` / ``temporal_frequencies`` replace the variant's values of that axis
  (any number of distinct values > 0, at most 256: the noise repeats every 256 cells).

Four values per axis, spaced so that neighbours look different (docs/RESULTS.md measures it), keep
the classes few enough for a CPU study; the page's names suggest 24 values per spatial axis.

The clip is fBm (:mod:`fdsl.kernels.perlin_noise3`, Perlin's improved noise of 2002): ``octaves``
octaves, each ``lacunarity`` times finer in x, y and t and weighted ``persistence`` times less,
read at pixel and frame centres. Grey levels come from one fixed mapping, the same for every clip:
0 noise is grey 128 and +-3 standard deviations of the fBm span 0..255 (clipped beyond, about 0.1%
of voxels). Stretching each clip to its own min and max, as the 2-D ``perlin`` family does per
image, would tie contrast to speed: a fast clip's extremes come from many independent frames, so
each frame got about a fifth less contrast (per-frame std 36 to 38 grey levels at 4 cells per
clip, 40 to 45 at 0.5, on the corners of the low grid) and a network could tell speed from
contrast alone. An instance is the same setting at another random offset in the noise's
256 x 256 x 256 period, drawn from the instance's generator.

Defaults (ours): 16 frames of 112 x 112, the default clip of kenshohara/3D-ResNets-PyTorch (whose
training the paper's curve resembles; the paper's own clip size is unpublished), small enough for
a narrow 3-D network on a CPU; 3 octaves, persistence 0.5, lacunarity 2. The ``.npy`` holds the
clip; ``--mp4`` adds an H.264 viewing copy (:mod:`fdsl.samples.video`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from fdsl.config_fields import choices
from fdsl.errors import FdslError, check
from fdsl.formulas.base import FormulaConfig, check_choice, check_range
from fdsl.formulas.grid import GridFormula, ParameterGrid
from fdsl.kernels.perlin_noise3 import PERIOD, fbm_std, fractal_noise_clip
from fdsl.numeric import to_number
from fdsl.registry import register
from fdsl.samples.video import MP4_VIDEO, VIDEO

#: (spatial, temporal) frequencies of each variant: lattice cells per frame side, per clip.
VARIANTS = {
    "low": ((1.0, 2.0, 3.0, 4.0), (0.5, 1.0, 2.0, 4.0)),
    "high": ((4.0, 8.0, 12.0, 16.0), (2.0, 4.0, 8.0, 16.0)),
}
FREQUENCY_FIELDS = ("spatial_frequencies", "temporal_frequencies")
#: Grey 0..255 spans +-CONTRAST_SD standard deviations of the fBm; about 0.1% of the voxels lie
#: beyond and are clipped.
CONTRAST_SD = 3.0
#: The largest clip (2 GiB of float64 noise while it is made).
MAX_VOXELS = 2**28


@dataclasses.dataclass
class VPNConfig(FormulaConfig):
    size: int = 112
    frames: int = 16
    variant: str = dataclasses.field(default="low", metadata=choices(tuple(VARIANTS)))
    #: None: the variant's values.
    spatial_frequencies: tuple[float, ...] | None = None
    temporal_frequencies: tuple[float, ...] | None = None
    octaves: int = 3
    persistence: float = 0.5
    lacunarity: float = 2.0
    mp4: bool = False

    def __post_init__(self) -> None:
        for name in FREQUENCY_FIELDS:  # lists from the command line or YAML, numbers in any spelling
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, (list, tuple)):
                raise FdslError(f"option {name!r} = {value!r}; expected a list of numbers")
            setattr(self, name, tuple(to_number(v, float, f"option {name!r}") for v in value))

    def validate(self) -> None:
        check(8 <= self.size <= 4096, f"size = {self.size}; allowed: 8..4096")
        check(2 <= self.frames <= 4096, f"frames = {self.frames}; allowed: 2..4096 (a clip needs two frames to move)")
        voxels = self.frames * self.size * self.size
        check(voxels <= MAX_VOXELS, f"frames x size x size = {voxels:,}; allowed: <= {MAX_VOXELS:,} "
                                    "(the noise takes 8 bytes a voxel while a clip is made)")
        check_choice("variant", self.variant, tuple(VARIANTS))
        for name in FREQUENCY_FIELDS:
            check_frequencies(name, getattr(self, name))
        check(1 <= self.octaves <= 8, f"octaves = {self.octaves}; allowed: 1..8")
        check_range("persistence", self.persistence, 0.0, 1.0, low_open=True)
        check_range("lacunarity", self.lacunarity, 1.0, 4.0)

    def axes(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(spatial, temporal) frequencies: the variant's, where not given."""
        spatial, temporal = VARIANTS[self.variant]
        return self.spatial_frequencies or spatial, self.temporal_frequencies or temporal


def check_frequencies(name: str, values: tuple[float, ...] | None) -> None:
    if values is None:
        return
    check(len(values) >= 1, f"{name} is empty; allowed: one or more values in (0, {PERIOD}]")
    for value in values:
        check(math.isfinite(value) and 0 < value <= PERIOD,
              f"{name} holds {value!r}; allowed: values in (0, {PERIOD}] (lattice cells)")
    check(len(set(values)) == len(values), f"{name} = {values!r} repeats a value; every category must differ")


@register("vpn")
class VPN(GridFormula):
    """Video Perlin Noise: 3-D Perlin-noise clips on a spatial x spatial x temporal frequency grid (WACV 2022; grid ours)."""

    Config = VPNConfig
    kind = VIDEO
    quick_config = {"size": 16, "frames": 4}

    def __init__(self, config: VPNConfig | None = None):
        super().__init__(config)
        spatial, temporal = self.config.axes()
        custom = self.config.spatial_frequencies or self.config.temporal_frequencies
        label = f"VPN-{self.config.variant}" + (" (custom frequencies)" if custom else "")
        self.grid = ParameterGrid(label, {"frequency_x": spatial, "frequency_y": spatial, "frequency_t": temporal},
                                  remedy="give more --spatial-frequencies or --temporal-frequencies")
        self.kind = MP4_VIDEO if self.config.mp4 else VIDEO

    def render(self, params: dict[str, Any], instance: int, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        offset = rng.uniform(0.0, PERIOD, size=3)
        noise = fractal_noise_clip(
            c.frames, c.size, c.size, frequency=(params["frequency_x"], params["frequency_y"], params["frequency_t"]),
            octaves=c.octaves, persistence=c.persistence, lacunarity=c.lacunarity,
            offset=(offset[0], offset[1], offset[2]))
        return to_grey(noise, grey_gain(c.octaves, c.persistence))


def grey_gain(octaves: int, persistence: float) -> float:
    """Grey levels per unit of noise: +-CONTRAST_SD standard deviations of the fBm span 0..255."""
    return 127.5 / (CONTRAST_SD * fbm_std(octaves, persistence))


def to_grey(noise: np.ndarray, gain: float) -> np.ndarray:
    """floor(noise x gain + 128), clipped to 0..255: one fixed mapping for every clip (see the module docstring)."""
    return np.clip(np.floor(noise * gain + 128.0), 0.0, 255.0).astype(np.uint8)
