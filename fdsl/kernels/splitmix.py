"""splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
the random stream of every kernel, a pure function of its 64-bit seed."""
from __future__ import annotations

import numba
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
#: 2**-53: (bits >> 11) times this is a double uniform in [0, 1).
UNIT = 1.0 / 9007199254740992.0


@numba.njit(cache=True, inline="always")
def next_u64(state):
    """splitmix64: returns (new state, 64 random bits)."""
    state = state + GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return state, z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def next_unit(state):
    """Returns (new state, a double uniform in [0, 1) from the top 53 bits)."""
    state, bits = next_u64(state)
    return state, (bits >> np.uint64(11)) * UNIT
