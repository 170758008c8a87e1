"""Compiled (numba) kernels: the arithmetic of the formula families and nothing else.

Kernels take arrays and numbers that the family modules (:mod:`fdsl.formulas`) have already
validated; they raise no errors of their own. Their random numbers come from a splitmix64 stream
(:mod:`fdsl.kernels.splitmix`) seeded by the caller's NumPy generator.
"""
