"""What produced a dataset or a set of weights, and the CPU kernels torch may pick.

Data: every byte of a sample is a pure function of (seed, config, category, instance) computed with
IEEE operations in a fixed order (numba kernels, libm's scalar functions, no BLAS, no NumPy
transcendental ufunc: those pick their code by the CPU's vector extensions). So the data is the
same on any x86-64 CPU for the same package versions; the cards record the versions and the CPU
(:func:`provenance`) and ``fdsl verify`` names the versions that differ from the installed ones.

Training: torch picks its CPU kernels by the CPU's instruction sets, and each choice rounds
differently: ATen's vectorised ops (AVX2 or AVX-512), oneDNN's convolutions and matrix products, and
MKL's GEMM, whose default path on AMD CPUs is not its path on Intel ones. :func:`pin_cpu_kernels`
pins all three to AVX2, which every x86-64 CPU since 2013-2015 has, before torch runs its first
operation (``import fdsl`` calls it). Variables already set are left as they are, and
``FDSL_CPU_KERNELS=native`` leaves all three to torch (faster on AVX-512 CPUs, other floats).
"""
from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: The variables :func:`pin_cpu_kernels` sets, and their values.
CPU_KERNEL_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
#: Set to "native" to leave torch's CPU kernels to torch.
OPT_OUT = "FDSL_CPU_KERNELS"

#: The distributions whose versions decide the bytes of generated data.
DATA_PACKAGES = ("fdsl", "numpy", "numba", "llvmlite", "pillow")
#: ... and those that decide the floats of training, besides.
TRAINING_PACKAGES = DATA_PACKAGES + ("torch", "torchvision", "timm", "segmentation-models-pytorch", "safetensors")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pin_cpu_kernels() -> None:
    """Pin torch's CPU kernels to AVX2 (see the module docstring) on x86-64 CPUs that have it."""
    if os.environ.get(OPT_OUT, "").lower() == "native" or "avx2" not in cpu_flags():
        return
    for name, value in CPU_KERNEL_PINS.items():
        os.environ.setdefault(name, value)


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """{distribution: installed version}; a distribution that is not installed is left out."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def provenance(packages: tuple[str, ...] = DATA_PACKAGES) -> dict[str, Any]:
    """What is producing data or weights here: Python, the packages' versions, the OS, libc and CPU."""
    libc = " ".join(platform.libc_ver()).strip()
    record = {
        "python": platform.python_version(),
        "packages": package_versions(packages),
        "platform": f"{sys.platform} {platform.machine()}" + (f", {libc}" if libc else ""),
        "cpu": cpu_model(),
    }
    if packages != DATA_PACKAGES:
        record["cpu_kernels"] = {name: os.environ.get(name, "(torch's choice)") for name in CPU_KERNEL_PINS}
    return record


def version_differences(recorded: dict[str, Any]) -> list[str]:
    """``name recorded -> installed`` for every package of a card's provenance whose installed
    version differs (``not installed`` when it is not)."""
    installed = package_versions(tuple(recorded.get("packages", {})))
    return [f"{name} {was} -> {installed.get(name, 'not installed')}"
            for name, was in recorded.get("packages", {}).items() if installed.get(name) != was]


def card_section(record: dict[str, Any] | None) -> str:
    """A model card's "Provenance" section (empty for weights saved before it was recorded)."""
    if not record:
        return ""
    packages = ", ".join(f"{name} {v}" for name, v in record.get("packages", {}).items())
    lines = ["## Provenance", "", f"- Python {record.get('python')}, {packages}",
             f"- {record.get('platform')}; CPU: {record.get('cpu')}"]
    if record.get("torch_cpu_capability"):
        lines.append(f"- torch CPU kernels: {record['torch_cpu_capability']}"
                     + (f"; device: {record['device']}" if record.get("device") else ""))
    return "\n".join(lines)
