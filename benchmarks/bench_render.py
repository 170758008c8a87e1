"""Render benchmark: images/s on one core for every formula family at its default (paper) settings,
against a per-point reference where ``benchmarks/reference/`` has one, plus category search time.

    python benchmarks/bench_render.py                          # every family, defaults = paper settings
    python benchmarks/bench_render.py --families fractaldb     # one family
    python benchmarks/bench_render.py --quick                  # quick_config, a few images: a smoke run

Per family, in one process (one core) unless said otherwise; rates are per CPU second of this
process (``*_wall`` in the JSON: per wall-clock second), since the machine may be shared:
- search: seconds per category of ``search_category`` (the first ``--search-categories``), then
  extrapolated to 1,000; and a real ``search_categories`` run of ``--search-run`` categories on
  ``--workers`` processes, also extrapolated to 1,000;
- render: ``formula.image`` over ``--images`` (category, instance) pairs spread over the searched
  categories and the instance range; "+ PNG" also encodes and writes each file as the writer does;
- reference: the family's module in ``benchmarks/reference/`` on the first ``--reference-images``
  of the same pairs, and the speed-up of render over it.

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
from fdsl.data.writer import encode_png, search_categories, write_bytes_atomic
from fdsl.errors import FdslError
from fdsl.formulas.base import Formula
from fdsl.registry import formula_class, get_formula, list_formulas
from fdsl.seeding import RENDER, derive_rng

HERE = Path(__file__).resolve().parent
SEED = 0
#: Instance stride between consecutive images of a category: coprime with 1,000, so FractalDB's
#: images spread over variations, patch draws and flips.
INSTANCE_STRIDE = 53
#: The issue's targets: family -> measured key -> (comparison, bound).
TARGETS = {
    "fractaldb": {
        "render_images_per_s": (">=", 150.0),
        "speedup_vs_reference": (">=", 500.0),
        "search_1000_run_s": ("<=", 300.0),  # "1,000 categories in a few minutes"
    },
}


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
def tasks_for(formula: Formula, n_categories: int, count: int) -> list[tuple[int, int]]:
    """``count`` (category, instance) pairs, round-robin over categories, instances spread by a stride."""
    limit = formula.instances_per_category or 1_000_000
    return [(i % n_categories, (i // n_categories) * INSTANCE_STRIDE % limit) for i in range(count)]


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


def time_render(formula: Formula, categories: list, tasks: list[tuple[int, int]]) -> dict[str, float]:
    with Clock() as clock:
        for category, instance in tasks:
            formula.image(categories[category], SEED, category, instance)
    return clock.rates(len(tasks), "render_images_per_s")


def time_render_png(formula: Formula, categories: list, tasks: list[tuple[int, int]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fdsl-bench-") as tmp, Clock() as clock:
        for category, instance in tasks:
            data = encode_png(formula.image(categories[category], SEED, category, instance))
            write_bytes_atomic(Path(tmp) / formula.instance_name(category, instance), data)
    return clock.rates(len(tasks), "render_png_images_per_s")


def time_reference(module: ModuleType, formula: Formula, categories: list,
                   tasks: list[tuple[int, int]]) -> dict[str, float]:
    with Clock() as clock:
        for category, instance in tasks:
            module.render(formula, categories[category], instance, derive_rng(SEED, RENDER, category, instance))
    return clock.rates(len(tasks), "images_per_s")


def bench_family(name: str, args: argparse.Namespace, reference: ModuleType | None) -> dict[str, Any]:
    config = dict(formula_class(name).quick_config) if args.quick else {}
    formula = get_formula(name, **config)
    # Warm-up outside the clocks: numba compiles or loads its cache on first use.
    formula.image(formula.search_category(SEED, 0), SEED, 0, 0)

    with Clock() as clock:
        categories = [formula.search_category(SEED, i) for i in range(args.search_categories)]
    tasks = tasks_for(formula, len(categories), args.images)
    result: dict[str, Any] = {
        "config": formula.config.to_dict(),
        "image_mode": formula.image_mode,
        "images": len(tasks),
        **time_render(formula, categories, tasks),
        **time_render_png(formula, categories, tasks),
        "search_s_per_category": clock.cpu / args.search_categories,
        "search_s_per_category_wall": clock.wall / args.search_categories,
        "search_1000_estimate_s": 1000 * clock.cpu / args.search_categories,
    }

    if reference is not None:
        ref_tasks = tasks[: args.reference_images]
        result["reference"] = {
            "module": f"benchmarks/reference/{Path(reference.__file__).name}",
            "images": len(ref_tasks),
            **time_reference(reference, formula, categories, ref_tasks),
        }
        result["speedup_vs_reference"] = result["render_images_per_s"] / result["reference"]["images_per_s"]

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
    (not judged in --quick runs, whose settings are not the paper's)."""
    checks = {}
    for key, (comparison, bound) in TARGETS.get(name, {}).items():
        value = result.get(key)
        met = None if quick or value is None else (value >= bound if comparison == ">=" else value <= bound)
        checks[key] = {"target": f"{comparison} {bound:g}", "measured": value, "met": met}
    return checks


# --- report -------------------------------------------------------------------------------------
def describe(config: dict[str, Any]) -> str:
    keys = ("size", "points", "render_mode", "color")
    return " ".join(f"{k}={config[k]}" for k in keys if k in config) or "-"


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(results: dict[str, Any]) -> None:
    header = ("family", "settings", "render img/s/core", "+PNG img/s/core", "ref img/s/core", "speed-up",
              "search s/cat", "1k search (1 core)", "1k search (run, wall)")
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
            f"{fmt(r['search_1000_estimate_s'], 0)} s", run_text,
        ))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    for name, r in results["families"].items():
        for key, check in r.get("targets", {}).items():
            verdict = {True: "met", False: "NOT met", None: "not judged (--quick)"}[check["met"]]
            print(f"{name}: {key} {fmt(check['measured'])} (target {check['target']}): {verdict}")


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
        results["families"][name] = result
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
