"""fdsl: formula-driven supervised learning.

Generate formula-driven datasets (FractalDB and its successors), deterministically from a seed,
to disk or on the fly, and pre-train vision models on them.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fdsl")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"

from fdsl.errors import FdslError
from fdsl.provenance import pin_cpu_kernels
from fdsl.registry import get_formula, list_formulas, register

pin_cpu_kernels()  # before torch's first operation: training's floats then match on every x86-64 CPU

__all__ = ["FdslError", "get_formula", "list_formulas", "register", "__version__"]
