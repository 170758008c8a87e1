"""Render benchmark: images/s on one core for every formula family at its default (paper) settings,
against a per-point reference where ``benchmarks/reference/`` has one, plus category search time.

    python benchmarks/bench_render.py                          # every family, defaults = paper settings
    python benchmarks/bench_render.py --families fractaldb     # one family
    python benchmarks/bench_render.py --quick                  # quick_config, a few images: a smoke run

Per family, in one process (one core) unless said otherwise; rates are per CPU second of this
process (``*_wall`` in the JSON: per wall-clock second), since the machine may be shared:
- categories: ``--search-categories`` indices spread evenly over the family's range, the same way
  for every family: its ``category_count`` when it has one (the cells of Bezier's and Perlin's
  grids, whose first cells are the simplest; a mixture's members' blocks), else the datasets'
  default 1,000;
- search: seconds per category of ``search_category`` on those indices, then extrapolated to
  1,000; and a real ``search_categories`` run of ``--search-run`` categories on ``--workers``
  processes, also extrapolated to 1,000;
- render: ``formula.sample`` over ``--images`` (category, instance) pairs, round-robin over those
  categories, instances spread over the family's range; "+ PNG" also encodes and writes each
  sample's files (PNG for images, .npy for clips) as the writer does, through the family's sample kind;
- reference: the family's module in ``benchmarks/reference/`` on ``--reference-images`` of the
  same pairs (on categories spread over the benchmarked ones), and the speed-up over it of fdsl
  on the same images (rendered repeatedly, about ``--images`` renders in all);
- targets: the issue's, per family (>= 100x the reference for every family; more for some), each
  with whether it is met; not judged with --quick, whose settings are not the paper's;
- variants: other values of a family's options (``VARIANTS``) rendered on the same images in the
  same run, e.g. FractalDB's patches ORed (``patch_mode=union``, fdsl's kernel before issue 27)
  beside the official paste.

Start-up is measured apart: the wall time of a ``fdsl render`` process that renders one tiny image
(the fastest of 3), and whether it imported torch (rendering, searching, showing and verifying must not).

Prints a table and writes JSON (``benchmarks/results/render.json``, ``render-quick.json`` with --quick).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

import fdsl
from fdsl.atomic import write_text_atomic
from fdsl.data.categories import search_categories
from fdsl.errors import FdslError
from fdsl.data.config import FormulaDataConfig
from fdsl.formulas.base import Formula
from fdsl.registry import formula_class, get_formula, list_formulas
from fdsl.seeding import RENDER, derive_rng

HERE = Path(__file__).resolve().parent
SEED = 0
#: Instance stride between consecutive images of a category: coprime with 1,000, so FractalDB's
#: images spread over variations, patch draws and flips.
INSTANCE_STRIDE = 53
#: Categories a family without a fixed number of them is benchmarked over: the datasets' default.
DEFAULT_CATEGORIES = FormulaDataConfig().categories
#: The issue's targets, measured key -> (comparison, bound): for every family, then per family
#: (FractalDB's are the foundation's). Judged at the default settings, which are the papers'
#: (RCDB and VisualAtom: 512 px, as the target says).
EVERY_FAMILY_TARGETS = {"speedup_vs_reference": (">=", 100.0)}
TARGETS = {
    "fractaldb": {
        "render_images_per_s": (">=", 150.0),
        "speedup_vs_reference": (">=", 500.0),
        "search_1000_run_s": ("<=", 300.0),  # "1,000 categories in a few minutes"
    },
    "rcdb": {"render_images_per_s": (">=", 100.0)},
    "visualatom": {"render_images_per_s": (">=", 100.0)},
    "segrcdb": {"render_images_per_s": (">=", 200.0)},  # image + mask pairs at 512 px
}
#: Options timed beside a family's defaults, on the same images in the same run: label -> overrides.
VARIANTS = {
    "fractaldb": {"patch_mode=union": {"patch_mode": "union"}},
    "ofdb": {"patch_mode=union": {"patch_mode": "union"}},
}
#: How the table names each measured key, and the unit after its bound.
TARGET_LABELS = {"speedup_vs_reference": ("speed-up", "x"), "render_images_per_s": ("img/s/core", ""),
                 "search_1000_run_s": ("1k search", " s")}


def targets_for(name: str) -> dict[str, tuple[str, float]]:
    return {**EVERY_FAMILY_TARGETS, **TARGETS.get(name, {})}


# --- references ---------------------------------------------------------------------------------
def discover_references() -> dict[str, ModuleType]:
    """family -> module, for every ``benchmarks/reference/*.py`` that defines FAMILY and render."""
    sys.path.insert(0, str(HERE))
    import reference

    found = {}
    for info in pkgutil.iter_modules(reference.__path__):
        module = importlib.import_module(f"reference.{info.name}")
        if hasattr(module, "FAMILY") and callable(getattr(module, "render", None)):
            found[module.FAMILY] = module
    return found


# --- measurements -------------------------------------------------------------------------------
def spread(total: int, count: int) -> list[int]:
    """``min(count, total)`` distinct integers spread evenly over ``range(total)``, starting at 0."""
    count = min(count, total)
    return [k * total // count for k in range(count)]


def category_range(formula: Formula) -> int:
    """How many categories the benchmark spreads its picks over: the family's count, else the default."""
    return formula.category_count or DEFAULT_CATEGORIES


def tasks_for(formula: Formula, indices: list[int], count: int) -> list[tuple[int, int]]:
    """``count`` (category, instance) pairs, round-robin over ``indices``, instances spread by a stride."""
    limit = formula.instances_per_category or 1_000_000
    return [(indices[i % len(indices)], (i // len(indices)) * INSTANCE_STRIDE % limit) for i in range(count)]


def reference_tasks(tasks: list[tuple[int, int]], n_categories: int, count: int) -> list[tuple[int, int]]:
    """``count`` of ``tasks`` on categories spread over the benchmarked ones (the first
    ``n_categories`` tasks hold each category once), not the first few, which may all be alike."""
    distinct = min(n_categories, len(tasks))
    if count <= distinct:
        return [tasks[i] for i in spread(distinct, count)]
    return tasks[:count]


class Clock:
    """Wall and CPU seconds of a block. On a shared machine the CPU time (this process only) is the
    honest "per core" figure: time spent waiting for a core is not the renderer's."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rates(self, count: int, key: str) -> dict[str, float]:
        """``key`` (per CPU second, i.e. per core) and ``key``_wall."""
        return {key: count / max(self.cpu, 1e-9), f"{key}_wall": count / max(self.wall, 1e-9)}


def time_render(formula: Formula, categories: dict[int, Any], tasks: list[tuple[int, int]],
                key: str = "render_images_per_s") -> dict[str, float]:
    with Clock() as clock:
        for category, instance in tasks:
            formula.sample(categories[category], SEED, category, instance)
    return clock.rates(len(tasks), key)


def time_variants(name: str, config: dict[str, Any], categories: dict[int, Any],
                  tasks: list[tuple[int, int]]) -> dict[str, Any]:
    """The family's ``VARIANTS`` on the same categories and images: label -> overrides and rates."""
    timed = {}
    for label, overrides in VARIANTS.get(name, {}).items():
        variant = get_formula(name, **config, **overrides)
        for index, params in categories.items():  # compile or load the variant's kernels off the clock
            variant.sample(params, SEED, index, 0)
        timed[label] = {"overrides": overrides, **time_render(variant, categories, tasks)}
    return timed


def time_render_png(formula: Formula, categories: dict[int, Any], tasks: list[tuple[int, int]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fdsl-bench-") as tmp, Clock() as clock:
        for category, instance in tasks:
            sample = formula.sample(categories[category], SEED, category, instance)
            formula.kind.write(sample, Path(tmp), formula.sample_stem(category, instance))
    return clock.rates(len(tasks), "render_png_images_per_s")


def time_reference(module: ModuleType, formula: Formula, categories: dict[int, Any],
                   tasks: list[tuple[int, int]]) -> dict[str, float]:
    with Clock() as clock:
        for category, instance in tasks:
            module.render(formula, categories[category], instance, derive_rng(SEED, RENDER, category, instance))
    return clock.rates(len(tasks), "images_per_s")


def bench_family(name: str, args: argparse.Namespace, reference: ModuleType | None) -> dict[str, Any]:
    config = dict(formula_class(name).quick_config) if args.quick else {}
    formula = get_formula(name, **config)
    indices = spread(category_range(formula), args.search_categories)
    # Warm-up outside the clocks: numba compiles or loads its cache on first use, and a mixture's
    # member on its first category, so each benchmarked category is searched and drawn once.
    for index in indices:
        formula.sample(formula.search_category(SEED, index), SEED, index, 0)

    with Clock() as clock:
        categories = {index: formula.search_category(SEED, index) for index in indices}
    tasks = tasks_for(formula, indices, args.images)
    result: dict[str, Any] = {
        "config": formula.config.to_dict(),
        "kind": formula.kind.name,
        **formula.kind.card_fields(formula),
        "category_range": category_range(formula),
        "categories": indices,
        "images": len(tasks),
        **time_render(formula, categories, tasks),
        **time_render_png(formula, categories, tasks),
        "variants": time_variants(name, config, categories, tasks),
        "search_s_per_category": clock.cpu / len(indices),
        "search_s_per_category_wall": clock.wall / len(indices),
        "search_1000_estimate_s": 1000 * clock.cpu / len(indices),
    }

    if reference is not None:
        ref_tasks = reference_tasks(tasks, len(indices), args.reference_images)
        # fdsl on the same images as the reference, repeated to about --images renders: categories
        # differ in cost (Bezier: 1 to 16 curves), so the speed-up compares like with like.
        repeats = max(1, len(tasks) // len(ref_tasks))
        same = time_render(formula, categories, ref_tasks * repeats, "fdsl_images_per_s")
        result["reference"] = {
            "module": f"benchmarks/reference/{Path(reference.__file__).name}",
            "images": len(ref_tasks),
            "tasks": ref_tasks,
            **time_reference(reference, formula, categories, ref_tasks),
            **same,
        }
        result["speedup_vs_reference"] = same["fdsl_images_per_s"] / result["reference"]["images_per_s"]

    if args.search_run > 0:  # wall clock: the time a user waits, whatever else runs on the machine
        start = time.perf_counter()
        try:
            search_categories(formula, args.search_run, seed=SEED, workers=args.workers, progress=False)
        except FdslError as error:  # e.g. a grid family with fewer categories than asked
            result["search_run"] = {"categories": args.search_run, "workers": args.workers, "error": str(error)}
            return result
        seconds = time.perf_counter() - start
        result["search_run"] = {"categories": args.search_run, "workers": args.workers, "seconds": seconds}
        result["search_1000_run_s"] = seconds * 1000 / args.search_run
    return result


def check_targets(name: str, result: dict[str, Any], quick: bool) -> dict[str, Any]:
    """The issue's targets for this family, each with the measured value and whether it is met
    (None: not judged, in --quick runs, whose settings are not the paper's, or not measured)."""
    checks = {}
    for key, (comparison, bound) in targets_for(name).items():
        value = result.get(key)
        met = None if quick or value is None else (value >= bound if comparison == ">=" else value <= bound)
        checks[key] = {"target": f"{comparison} {bound:g}", "measured": value, "met": met}
    return checks


def all_met(checks: list[dict[str, Any]]) -> bool | None:
    """False if any target is missed, else None if any is not judged, else True."""
    verdicts = [check["met"] for check in checks]
    return False if False in verdicts else None if None in verdicts else True


def verdict(check: dict[str, Any], quick: bool) -> str:
    if check["met"] is None:
        return "not judged (--quick)" if quick else "not measured"
    return "met" if check["met"] else "NOT met"


# --- report -------------------------------------------------------------------------------------
def describe(config: dict[str, Any]) -> str:
    keys = ("size", "frames", "points", "render_mode", "color")
    return " ".join(f"{k}={config[k]}" for k in keys if k in config) or "-"


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def targets_text(checks: dict[str, Any], quick: bool) -> str:
    parts = []
    for key, check in checks.items():
        label, unit = TARGET_LABELS[key]
        parts.append(f"{label} {check['target']}{unit}: {verdict(check, quick)}")
    return "; ".join(parts)


def print_table(results: dict[str, Any]) -> None:
    quick = results["quick"]
    header = ("family", "settings", "render img/s/core", "+PNG img/s/core", "ref img/s/core", "speed-up",
              "search s/cat", "1k search (1 core)", "1k search (run, wall)", "targets")
    rows = []
    for name, r in results["families"].items():
        run = r.get("search_run")
        if run is None or "error" in run:
            run_text = "-" if run is None else f"({run['categories']} categories: not available)"
        else:
            run_text = (f"{fmt(r['search_1000_run_s'], 0)} s "
                        f"({run['categories']} in {run['seconds']:.1f} s, {run['workers']} w)")
        rows.append((
            name, describe(r["config"]), fmt(r["render_images_per_s"]), fmt(r["render_png_images_per_s"]),
            fmt(r.get("reference", {}).get("images_per_s"), 2), fmt(r.get("speedup_vs_reference"), 0) + "x"
            if "speedup_vs_reference" in r else "-", fmt(r["search_s_per_category"], 3),
            f"{fmt(r['search_1000_estimate_s'], 0)} s", run_text, targets_text(r["targets"], quick),
        ))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    for name, r in results["families"].items():
        for label, variant in r["variants"].items():
            print(f"{name} with {label}: {fmt(variant['render_images_per_s'])} img/s/core "
                  f"(with its defaults: {fmt(r['render_images_per_s'])}), on the same images")
    for name, r in results["families"].items():
        for key, check in r["targets"].items():
            print(f"{name}: {key} {fmt(check['measured'])} (target {check['target']}): {verdict(check, quick)}")
    overall = {True: "every target met", False: "some target NOT met", None: "not all targets judged"}
    print(overall[results["all_targets_met"]])


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        # The machine may be shared: a load above the core count slows every figure here.
        "load_average_1_5_15_min": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fdsl": fdsl.__version__,
    }


#: What the start-up measurement runs: ``fdsl render`` of one tiny image, so nearly all of its time is
#: the interpreter, the imports and the first call of each numba kernel (from numba's cache).
STARTUP_COMMAND = ["render", "fractaldb", "--categories", "1", "--instances", "1", "--size", "32", "--points", "500",
                   "--search-size", "32", "--search-points", "500"]
STARTUP_PROBE = ("import sys, time; start = time.perf_counter(); from fdsl.cli import main; code = main(sys.argv[1:]); "
                 "print(time.perf_counter() - start, code, 'torch' in sys.modules)")


def startup(runs: int = 3) -> dict[str, Any]:
    """Seconds a ``fdsl render`` process takes to render one tiny image (start-up, apart from the
    per-image rates), the fastest of ``runs``; and whether that command imported torch (it must not)."""
    import subprocess

    times, torch_imported = [], set()
    for run in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            begin = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", STARTUP_PROBE, *STARTUP_COMMAND, "-o", f"{folder}/r"],
                                  capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - begin)
            in_process, code, imported = done.stdout.split()[-3:]
            torch_imported.add(imported == "True")
    return {"command": "fdsl " + " ".join(STARTUP_COMMAND), "process_s": round(min(times), 3),
            "imports_torch": any(torch_imported)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", help="comma-separated families (default: every registered one)")
    p.add_argument("--images", type=int, help="images timed per family (default 300; 20 with --quick)")
    p.add_argument("--reference-images", type=int, help="images timed with the slow reference (default 3; 1)")
    p.add_argument("--search-categories", type=int, help="categories timed on one core (default 20; 3)")
    p.add_argument("--search-run", type=int, help="categories of the real multi-process search (default 200; 10)")
    p.add_argument("--workers", type=int, default=2, help="processes for the search run")
    p.add_argument("--quick", action="store_true", help="each family's quick_config and fewer images")
    p.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/render[-quick].json)")
    args = p.parse_args(argv)
    defaults = {"images": (300, 20), "reference_images": (3, 1), "search_categories": (20, 3),
                "search_run": (200, 10)}
    for key, (full, quick) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    if args.out is None:
        args.out = HERE / "results" / ("render-quick.json" if args.quick else "render.json")
    families = args.families.split(",") if args.families else list_formulas()
    unknown = sorted(set(families) - set(list_formulas()))
    if unknown:
        p.error(f"unknown family {unknown[0]!r}; valid: {', '.join(list_formulas())}")
    if min(args.images, args.search_categories, args.reference_images, args.workers) < 1 or args.search_run < 0:
        p.error("--images, --search-categories, --reference-images and --workers must be >= 1, --search-run >= 0")
    args.families = families
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    references = discover_references()
    results: dict[str, Any] = {
        "command": " ".join(["python benchmarks/bench_render.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "seed": SEED,
        "quick": args.quick,
        "families": {},
    }
    for name in args.families:
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        result = bench_family(name, args, references.get(name))
        result["targets"] = check_targets(name, result, args.quick)
        result["targets_met"] = all_met(list(result["targets"].values()))
        results["families"][name] = result
    results["all_targets_met"] = all_met([c for r in results["families"].values() for c in r["targets"].values()])
    results["startup"] = startup()
    print_table(results)
    print(f"start-up: {results['startup']['process_s']:.2f} s for `{results['startup']['command']}` "
          f"(imports torch: {results['startup']['imports_torch']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
