"""Same seed, same bytes, on any CPU: the demo's whole pre-training data is pinned, and the pins of
every family (tests/test_pinned_images.py) hold under every emulation of another CPU this machine
offers: numba's generic target, NumPy without its SIMD dispatch, and each OpenBLAS core type.

The pins' first failure on another machine came from ``np.linalg.det``, whose LU rounding follows
the BLAS kernel the CPU selects; a NumPy transcendental (SVML's log1p under AVX-512) moved the
demo's data. Neither can be run here, so these tests emulate what can be emulated, and the code
keeps data-picking arithmetic to fixed-order IEEE operations (:mod:`fdsl.provenance`).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_FLAGS
from fdsl.data.cards import merge_cards
from fdsl.data.writer import Shard, render_dataset
from fdsl.formulas import ifs3d
from fdsl.formulas.ifs2d import density_levels
from fdsl.provenance import CPU_KERNEL_PINS, cpu_flags, pin_cpu_kernels, provenance, version_differences
from fdsl.registry import get_formula
from fdsl.seeding import derive_rng
from fdsl.tasks.classification.presets import cpu_small_pretrain

TESTS = Path(__file__).parent

#: sha256 over the demo's 100 categories (their parameters' bytes) and, per category, the first
#: training instance, the last one and the first held-out one, as rendered on the fly.
DEMO_DATA_DIGEST = "a5277b320b8e95551905e3029ee0ebde9f84da9caeed70c59ba1c18e8a5df92d"


def demo_data_digest() -> str:
    data = cpu_small_pretrain().data
    formula = get_formula(data.family, **data.formula)
    digest = hashlib.sha256()
    for category in range(data.categories):
        params = formula.search_category(data.seed, category)
        digest.update(params.tobytes())
        for instance in (0, data.instances - 1, data.instances):
            digest.update(formula.sample(params, data.seed, category, instance).tobytes())
    return digest.hexdigest()


def test_demo_pretraining_data_is_pinned():
    """A change of the search or the renderer shows here at once, not after a 15-minute demo."""
    assert demo_data_digest() == DEMO_DATA_DIGEST


def openblas_core_types() -> list[str]:
    """OpenBLAS kernel families this CPU can run: plain SSE3, AVX, and AVX2 with Intel's and AMD's tuning."""
    flags = cpu_flags()
    types = ["Prescott", "Nehalem"]
    types += ["Sandybridge"] if "avx" in flags else []
    types += ["Haswell", "Zen"] if {"avx2", "fma"} <= flags else []
    return types


def numpy_dispatch_features() -> str:
    """NumPy's dispatched SIMD targets that this CPU has (NumPy refuses to disable its baseline)."""
    from numpy._core import _multiarray_umath as umath

    return " ".join(f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f))


EMULATIONS = {
    "numba-generic": {"NUMBA_CPU_NAME": "generic", "NUMBA_CPU_FEATURES": ""},
    "numpy-no-simd": {"NPY_DISABLE_CPU_FEATURES": numpy_dispatch_features()},
    **{f"openblas-{name.lower()}": {"OPENBLAS_CORETYPE": name} for name in openblas_core_types()},
}


@pytest.mark.slow
@pytest.mark.parametrize("emulation", sorted(EMULATIONS))
def test_pins_hold_under_emulated_cpus(emulation):
    env = {**os.environ, **EMULATIONS[emulation]}  # numba's cache keys its entries by the target CPU
    tests = [str(TESTS / "test_pinned_images.py"), f"{TESTS / 'test_portability.py'}::test_demo_pretraining_data_is_pinned"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_cpu_kernels_are_pinned_before_torch_runs():
    """``import fdsl`` pins torch's CPU kernels to AVX2 (on CPUs that have it), leaving set variables and
    ``FDSL_CPU_KERNELS=native`` alone; a fresh interpreter shows what a command sees."""
    code = "import fdsl, json, os; print(json.dumps({k: os.environ.get(k) for k in %r}))" % list(CPU_KERNEL_PINS)
    run = lambda **env: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], env={**{k: v for k, v in os.environ.items() if k not in CPU_KERNEL_PINS},
                                           **env}, capture_output=True, text=True, check=True).stdout)
    expected = CPU_KERNEL_PINS if "avx2" in cpu_flags() else dict.fromkeys(CPU_KERNEL_PINS)
    assert run() == expected
    assert run(MKL_CBWR="COMPATIBLE")["MKL_CBWR"] == "COMPATIBLE"
    assert run(FDSL_CPU_KERNELS="native") == dict.fromkeys(CPU_KERNEL_PINS)
    pin_cpu_kernels()  # idempotent in this process too


def test_provenance_records_versions_and_cpu_and_names_differences():
    record = provenance()
    assert set(record["packages"]) >= {"fdsl", "numpy", "numba", "pillow"} and record["cpu"] and record["python"]
    assert version_differences(record) == []
    older = {**record, "packages": {**record["packages"], "numpy": "1.0.0", "nothing-such": "1"}}
    assert sorted(version_differences(older)) == sorted([f"numpy 1.0.0 -> {record['packages']['numpy']}",
                                                         "nothing-such 1 -> not installed"])


def test_determinants_are_the_cofactor_formula_in_python_floats():
    """Bit for bit the scalar IEEE operations of the docstring's order: no LAPACK, no reassociation."""
    params = derive_rng(0, "det").uniform(-1, 1, size=(200, 13))
    expected = [a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
                for a, b, c, d, e, f, g, h, i in params[:, :9].tolist()]
    assert ifs3d.determinants(params).tolist() == expected


def test_axis_variances_are_two_passes_in_index_order():
    points = derive_rng(0, "var").normal(size=(3, 257))
    expected = []
    for row in points.tolist():
        mean = sum_in_order(row) / len(row)
        expected.append(sum_in_order([(v - mean) * (v - mean) for v in row]) / len(row))
    assert ifs3d.axis_variances(points, 257).tolist() == expected


def sum_in_order(values: list[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


@pytest.mark.parametrize("top", [1, 2, 7, 100, 255, 256, 1000, 4095])
def test_density_levels_are_exact(top):
    """Level L of count c is the largest L with (1 + top)^L <= (1 + c)^255: integers decide, not a libm."""
    levels = density_levels(top)
    for c in range(top + 1):
        level = int(levels[c])
        assert (1 + top) ** level <= (1 + c) ** 255 and (level == 255 or (1 + top) ** (level + 1) > (1 + c) ** 255)


def test_dataset_card_records_provenance_and_verify_warns_on_other_versions(tmp_path, run_cli):
    out = tmp_path / "r"
    assert run_cli("render", "fractaldb", *SMALL_FLAGS, "--categories", "2", "--instances", "2", "-o", out)[0] == 0
    card_path = out / "dataset_card.json"
    card = json.loads(card_path.read_text())
    assert card["provenance"] == provenance()
    code, stdout, stderr = run_cli("verify", out)
    assert code == 0 and "warning" not in stderr
    card["provenance"]["packages"]["numpy"] = "1.0.0"
    card_path.write_text(json.dumps(card))
    code, stdout, stderr = run_cli("verify", out)
    assert code == 0 and "files match" in stdout
    assert stderr.count("\n") == 1 and "warning" in stderr and f"numpy 1.0.0 -> {np.__version__}" in stderr


def test_merged_card_lists_each_machine_once(tmp_path, small_fractaldb, small_categories):
    for index in (0, 1):
        render_dataset(small_fractaldb, small_categories, tmp_path, seed=0, instances=2, shard=Shard(index, 2),
                       progress=False)
    assert json.loads((tmp_path / "dataset_card.json").read_text())["provenance"] == provenance()
    other = json.loads((tmp_path / "dataset_card.shard-1-of-2.json").read_text())
    other["provenance"] = {**other["provenance"], "cpu": "another CPU"}
    (tmp_path / "dataset_card.shard-1-of-2.json").write_text(json.dumps(other))
    assert merge_cards(tmp_path)["provenance"] == [provenance(), other["provenance"]]
