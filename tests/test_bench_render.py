"""The render benchmark runs (quick), and its per-point FractalDB reference draws what fdsl draws."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fdsl.formulas import ifs2d
from fdsl.formulas.fractaldb import flip
from fdsl.registry import get_formula
from fdsl.seeding import derive_rng

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_render", BENCHMARKS / "bench_render.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_render", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference(bench):
    return bench.discover_references()["fractaldb"]


def test_quick_run_writes_json(bench, tmp_path, capsys):
    out = tmp_path / "render.json"
    bench.main(["--quick", "--families", "fractaldb", "--images", "4", "--search-run", "4", "--out", str(out)])
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["family", "settings", "render"]
    result = json.loads(out.read_text())["families"]["fractaldb"]
    assert result["images"] == 4 and result["config"]["size"] == 64
    assert result["render_images_per_s"] > result["reference"]["images_per_s"] > 0
    assert result["speedup_vs_reference"] > 1
    assert result["search_run"] == {"categories": 4, "workers": 2, "seconds": result["search_run"]["seconds"]}
    assert {check["met"] for check in result["targets"].values()} == {None}  # not judged on quick settings


def test_bad_family_is_rejected(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--families", "fractaldb,nope"])


@pytest.mark.parametrize("k", [0.1, 0.4])
def test_reference_variations_match_the_library(reference, k):
    np.testing.assert_allclose([reference.variation_row(k, v) for v in range(25)], ifs2d.variation_multipliers(k),
                               atol=1e-15)


#: Barnsley's fern as a FractalDB system (a, b, c, d, e, f, p): contractive and asymmetric, so its
#: shape is stable from orbit to orbit and every flip looks different.
FERN = np.array([[0, 0, 0, 0.16, 0, 0, 0.01], [0.85, 0.04, -0.04, 0.85, 0, 1.6, 0.85],
                 [0.2, -0.26, 0.23, 0.22, 0, 1.6, 0.07], [-0.15, 0.28, 0.26, 0.24, 0, 0.44, 0.07]])


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("instance", [8, 9, 10, 11, 5, 4 * 13 + 3])  # the identity x 4 flips, a x 0.6, d x 0.6
def test_reference_draws_what_fdsl_draws(reference, instance):
    formula = get_formula("fractaldb", size=64, points=20_000)
    slow = reference.render(formula, FERN, instance, derive_rng(0, "ref"))
    assert slow.shape == (64, 64) and slow.dtype == np.uint8
    assert set(np.unique(slow).tolist()) == {0, 127}
    _, _, which = formula.decompose(instance)
    upright = flip(formula.image(FERN, 0, 0, instance), which)  # undo fdsl's flip
    scores = [overlap(slow > 0, flip(upright, k) > 0) for k in range(4)]
    assert scores[which] > 0.85, f"the reference and fdsl draw different shapes: {scores}"
    assert int(np.argmax(scores)) == which, f"the reference flips differently: {scores}"
