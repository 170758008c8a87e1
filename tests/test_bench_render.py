"""The render benchmark runs (quick), and its per-point FractalDB reference draws what fdsl draws."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fdsl.formulas import ifs2d
from fdsl.registry import get_formula, list_formulas
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
    assert table.splitlines()[0].split()[-1] == "targets"
    assert "speed-up >= 500x: not judged (--quick)" in table.splitlines()[2]
    results = json.loads(out.read_text())
    result = results["families"]["fractaldb"]
    assert result["images"] == 4 and result["config"]["size"] == 64
    # Three categories (the quick default) spread over the default 1,000, one image each, then round-robin.
    assert result["category_range"] == 1000 and result["categories"] == [0, 333, 666]
    assert result["reference"]["images"] == 1 and result["reference"]["tasks"] == [[0, 0]]
    assert result["render_images_per_s"] > 0 and result["reference"]["images_per_s"] > 0
    reference = result["reference"]
    assert result["speedup_vs_reference"] == reference["fdsl_images_per_s"] / reference["images_per_s"]
    assert result["search_run"] == {"categories": 4, "workers": 2, "seconds": result["search_run"]["seconds"]}
    # The ORed patches (fdsl's kernel before issue 27) timed on the same images, beside the defaults.
    union = result["variants"]["patch_mode=union"]
    assert union["overrides"] == {"patch_mode": "union"} and union["render_images_per_s"] > 0
    assert "fractaldb with patch_mode=union: " in table
    # Every target is listed, none judged on quick settings.
    assert set(result["targets"]) == {"render_images_per_s", "speedup_vs_reference", "search_1000_run_s"}
    assert result["targets"]["speedup_vs_reference"]["target"] == ">= 500"
    assert {check["met"] for check in result["targets"].values()} == {None}
    assert result["targets_met"] is None and results["all_targets_met"] is None


def test_grid_categories_are_spread_over_the_grid(bench, tmp_path, capsys):
    """Bezier's first cells all hold one curve: the benchmark must draw from the whole grid."""
    out = tmp_path / "render.json"
    bench.main(["--quick", "--families", "bezier", "--images", "8", "--search-categories", "4",
                "--reference-images", "2", "--search-run", "0", "--out", str(out)])
    result = json.loads(out.read_text())["families"]["bezier"]
    assert result["category_range"] == 1024 and result["categories"] == [0, 256, 512, 768]
    curves = [get_formula("bezier").search_category(0, c)["curves"] for c in result["categories"]]
    assert curves == sorted(curves) and len(set(curves)) == 4
    assert result["reference"]["tasks"] == [[0, 0], [512, 0]]  # spread over the benchmarked categories too
    assert "search_run" not in result and "search_1000_run_s" not in result


def test_spread_and_reference_tasks(bench):
    assert bench.spread(1000, 20) == list(range(0, 1000, 50))
    assert bench.spread(100, 3) == [0, 33, 66]
    assert bench.spread(5, 8) == [0, 1, 2, 3, 4]  # never more than there are
    tasks = bench.tasks_for(get_formula("rcdb"), [0, 10, 20, 30], 8)
    assert [c for c, _ in tasks] == [0, 10, 20, 30] * 2
    assert bench.reference_tasks(tasks, 4, 2) == [tasks[0], tasks[2]]
    assert bench.reference_tasks(tasks, 4, 6) == tasks[:6]


def test_targets_for_every_family(bench):
    """>= 100x the reference everywhere; RCDB and VisualAtom >= 100 img/s; FractalDB's foundation targets."""
    for name in list_formulas():
        assert bench.targets_for(name)["speedup_vs_reference"][0] == ">="
    assert bench.targets_for("bezier") == {"speedup_vs_reference": (">=", 100.0)}
    assert bench.targets_for("rcdb")["render_images_per_s"] == (">=", 100.0)
    assert bench.targets_for("visualatom")["render_images_per_s"] == (">=", 100.0)
    assert bench.targets_for("fractaldb")["render_images_per_s"] == (">=", 150.0)
    assert bench.targets_for("fractaldb")["speedup_vs_reference"] == (">=", 500.0)


def test_targets_are_judged_on_full_runs(bench):
    checks = bench.check_targets("rcdb", {"render_images_per_s": 120.0, "speedup_vs_reference": 40.0}, quick=False)
    assert checks == {
        "speedup_vs_reference": {"target": ">= 100", "measured": 40.0, "met": False},
        "render_images_per_s": {"target": ">= 100", "measured": 120.0, "met": True},
    }
    assert bench.all_met(list(checks.values())) is False
    fractaldb = bench.check_targets("fractaldb", {"render_images_per_s": 200.0, "speedup_vs_reference": 600.0,
                                                  "search_1000_run_s": 200.0}, quick=False)
    assert bench.all_met(list(fractaldb.values())) is True
    missing = bench.check_targets("bezier", {}, quick=False)  # no reference measured
    assert missing["speedup_vs_reference"]["met"] is None and bench.all_met(list(missing.values())) is None
    assert bench.verdict(missing["speedup_vs_reference"], quick=False) == "not measured"


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


def footprint(image: np.ndarray) -> np.ndarray:
    """The pixels within one pixel of a lit one: the shape, whatever speckle the random masks leave."""
    lit = np.pad(image > 0, 1)
    near = np.zeros_like(lit)
    for dr in range(3):
        for dc in range(3):
            near[1:-1, 1:-1] |= lit[dr:dr + image.shape[0], dc:dc + image.shape[1]]
    return near[1:-1, 1:-1]


@pytest.mark.parametrize("instance", [8, 9, 10, 11, 5, 4 * 13 + 3])  # the identity x 4 flips, a x 0.6, d x 0.6
def test_reference_draws_what_fdsl_draws(reference, instance):
    formula = get_formula("fractaldb", size=64, points=20_000)
    slow = reference.render(formula, FERN, instance, derive_rng(0, "ref"))
    assert slow.shape == (64, 64) and slow.dtype == np.uint8
    assert set(np.unique(slow).tolist()) == {0, 127}
    _, _, which = formula.decompose(instance)
    upright = ifs2d.flip_image(formula.sample(FERN, 0, 0, instance), which)  # undo fdsl's flip
    scores = [overlap(footprint(slow), footprint(ifs2d.flip_image(upright, k))) for k in range(4)]
    assert scores[which] > 0.8, f"the reference and fdsl draw different shapes: {scores}"
    assert int(np.argmax(scores)) == which, f"the reference flips differently: {scores}"
    lit = [np.count_nonzero(image) / np.count_nonzero(footprint(image)) for image in (slow, upright)]
    assert abs(lit[0] - lit[1]) < 0.05, f"the reference and fdsl speckle differently: {lit}"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_footprint_fraction_and_a_small_run(tmp_path):
    footprint = load_script("patch_footprint")
    dot = np.zeros((9, 9), np.uint8)
    dot[4, 4] = 127
    assert footprint.footprint_fraction(dot) == 1 / 9
    block = np.zeros((9, 9, 3), np.uint8)
    block[3:6, 3:6] = 200
    assert footprint.footprint_fraction(block) == 9 / 25
    small = ["--set", "size=64", "--set", "points=8000", "--set", "search_size=128", "--set", "search_points=10000"]
    out = tmp_path / "footprint.json"
    official = footprint.main(["--images", "3", *small, "--out", str(out)])
    union = footprint.main(["--images", "3", *small, "--set", "patch_mode=union"])
    assert official["overrides"]["size"] == 64 and union["overrides"]["patch_mode"] == "union"
    assert official["max"] < union["min"]  # the pasted zeros clear part of what the ORed masks keep
    assert json.loads(out.read_text())["fractions"] == official["fractions"]
