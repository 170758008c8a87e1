"""Seeds derived from keys, so that any worker, process or machine regenerates the same data.

Every random draw in fdsl comes from a generator built here from ``(seed, domain, *keys)``:
the image ``(seed, category, instance)`` is the same wherever and in whatever order it is made.
"""
import functools
import zlib

import numpy as np

# Domains keep the streams of different jobs apart (a category search never reuses a render stream).
SEARCH = "search"
RENDER = "render"


@functools.lru_cache(maxsize=None)
def _domain_key(domain: str) -> int:
    return zlib.crc32(domain.encode())


def _uint32_words(entropy: list[int]) -> np.ndarray | list[int]:
    """The uint32 words SeedSequence makes of a list of non-negative ints (each int least
    significant word first, 0 as one word), as an array: SeedSequence takes an array ~3x faster
    than a list, with the same state. A negative int is left to SeedSequence, which rejects it."""
    words = []
    for value in entropy:
        if value < 0:
            return entropy
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        while value:
            words.append(value & 0xFFFFFFFF)
            value >>= 32
    return np.array(words, dtype=np.uint32)


def derive_rng(seed: int, domain: str, *keys: int) -> np.random.Generator:
    """A generator that depends only on ``seed``, ``domain`` and ``keys``."""
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, _domain_key(domain), *(int(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_uint32_words(entropy))))


def kernel_seed(rng: np.random.Generator) -> np.uint64:
    """A 64-bit seed for a compiled kernel's own generator, drawn from ``rng``."""
    return np.uint64(rng.integers(1, 2**63, dtype=np.int64))
