"""Straightforward reference implementations, one module per formula family, for the benchmarks.

A module here is found automatically by ``benchmarks/bench_render.py`` when it defines:

- ``FAMILY``: the registered family name it re-implements;
- ``render(formula, params, instance, rng) -> np.ndarray``: image ``instance`` of the category
  ``params`` at ``formula.config``, drawn the slow, obvious way (the official algorithm as
  published), with random numbers from ``rng``.

References are timed on the same categories and instances as the fast renderer; their random
streams differ, so their images match the fast ones in look, not in bytes.
"""
