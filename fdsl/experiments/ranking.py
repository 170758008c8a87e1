"""A study's ranking: every arm sorted by its mean fine-tuned score, which differences lie inside
the noise, the papers' claims checked against the measured scores, and what each arm's pre-training
cost.

A difference between two arms counts when it reaches :data:`NOISE_STD` pooled standard deviations
(sqrt((s_a^2 + s_b^2) / 2), sample standard deviations over the seeds), the rule the study tables use
for the gap to scratch. A study file may list the papers' claims as orders of arms, each under its
source (``>``: better, ``=``: about as good)::

    claims:
      "IJCV 2022 (ResNet-50, 224 px)": fractaldb > perlin > bezier > scratch
      "ICCV 2023 (ViT-Tiny)": ofdb = fractaldb

Each adjacent pair of an order is one claim, checked as: *holds* (``>``: the gap reaches the
noise rule in the claimed direction; ``=``: it does not reach it), *reversed* (``>``: it reaches it
the other way), or *inside the noise* (``>``: neither, the sign said); ``=`` that fails reads
*does not hold*.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from fdsl.errors import check
from fdsl.experiments.results import StudyRow, difference, markdown_table

NOISE_STD = 2.0
SCRATCH = "scratch"


@dataclasses.dataclass(frozen=True)
class Claim:
    """One step of a paper's order: ``better`` above (``>``) or level with (``=``) ``worse``."""

    source: str
    better: str
    relation: str
    worse: str


def parse_claims(values: Any, arms: list[str]) -> list[Claim]:
    """The claims of a study file's ``claims`` mapping (source -> "a > b = c"), names checked against ``arms``."""
    if not values:
        return []
    check(isinstance(values, dict), "claims must map each source to an order, e.g. {'IJCV 2022': 'fractaldb > scratch'}")
    claims = []
    for source, order in values.items():
        check(isinstance(order, str) and re.search("[>=]", order),
              f"claims[{source!r}] = {order!r}; expected an order such as 'fractaldb > perlin = bezier'")
        tokens = [token.strip() for token in re.split("([>=])", order)]
        names, relations = tokens[0::2], tokens[1::2]
        for name in names:
            check(name in arms, f"claims[{source!r}] names {name!r}; valid: {', '.join(arms)}")
        claims += [Claim(str(source), a, rel, b) for a, rel, b in zip(names, relations, names[1:])]
    return claims


def verdict(claim: Claim, scores: dict[str, list[float]]) -> tuple[float, float, str]:
    gap, in_std = difference(scores[claim.better], scores[claim.worse])
    if claim.relation == "=":
        return gap, in_std, "holds (inside the noise)" if abs(in_std) < NOISE_STD else "does not hold"
    if in_std >= NOISE_STD:
        return gap, in_std, "holds"
    if in_std <= -NOISE_STD:
        return gap, in_std, "reversed"
    return gap, in_std, f"inside the noise ({'same' if gap > 0 else 'opposite'} sign)"


def ranked(rows: list[StudyRow]) -> list[StudyRow]:
    return sorted(rows, key=lambda row: -row.mean)


def noise_word(row: StudyRow) -> str:
    if row.gap_std is None:
        return "baseline"
    return "above" if row.gap_std >= NOISE_STD else "below" if row.gap_std <= -NOISE_STD else "inside the noise"


def ranking_table(rows: list[StudyRow], *, metric: str, render_ms: dict[str, float | None] | None = None) -> str:
    """Arms sorted by mean, with the gap to scratch, whether it clears the noise, whether the arm is
    level with the best (inside the noise of the top arm), and the pre-training cost."""
    order = ranked(rows)
    best = order[0]
    table = []
    for place, row in enumerate(order, 1):
        _, to_best = difference(row.scores, best.scores)
        pre = row.pretraining
        cost = f"{pre.minutes:.1f} min, {pre.images / 1000:.0f}k" if pre else "-"
        render = (render_ms or {}).get(row.init)
        table.append([str(place), row.init, f"{row.mean:.2f} ± {row.std:.2f}",
                      f"{row.gap:+.2f} ({row.gap_std:+.1f})" if row.gap is not None else "-", noise_word(row),
                      "yes" if row is best or abs(to_best) < NOISE_STD else "no", cost,
                      f"{render:.2f}" if render is not None else "-"])
    header = ["rank", "init", f"fine-tuned {metric} (%)", "gap to scratch (std)", "vs scratch",
              "level with the best", "pre-training (time, samples)", "render (ms/sample)"]
    return markdown_table(header, table)


def claims_table(claims: list[Claim], rows: list[StudyRow]) -> str:
    scores = {row.init: row.scores for row in rows}
    table = []
    for claim in claims:
        gap, in_std, word = verdict(claim, scores)
        table.append([claim.source, f"{claim.better} {claim.relation} {claim.worse}", f"{gap:+.2f}", f"{in_std:+.1f}",
                      word])
    return markdown_table(["source", "claim", "measured gap (points)", "gap (pooled std)", "here"], table)


def plot_ranking(rows: list[StudyRow], path: Path, *, metric: str, title: str = "") -> None:
    """Arms top to bottom by mean: each seed a dot, the mean ± std a bar; green above scratch beyond the
    noise, red below it, grey inside it; scratch's mean a dashed line; the rows of the arms level with
    the best (inside its noise) shaded blue."""
    from matplotlib.figure import Figure

    from fdsl.atomic import atomic_path

    order = ranked(rows)[::-1]  # matplotlib draws the first row at the bottom
    figure = Figure(figsize=(7.5, 0.9 + 0.38 * len(order)), layout="constrained")
    ax = figure.subplots()
    colours = {"above": "tab:green", "below": "tab:red", "inside the noise": "0.55", "baseline": "black"}
    scratch = next((row for row in rows if row.gap is None), None)
    if scratch is not None:
        ax.axvline(scratch.mean, color="black", linestyle="--", linewidth=1)
        ax.axvspan(scratch.mean - scratch.std, scratch.mean + scratch.std, color="0.9", zorder=0)
    best = order[-1]
    for y, row in enumerate(order):
        colour = colours[noise_word(row)]
        ax.errorbar(row.mean, y, xerr=row.std, fmt="o", color=colour, capsize=3, markersize=6)
        ax.plot(row.scores, [y] * len(row.scores), ".", color=colour, alpha=0.5, markersize=4)
        gap = f"{row.gap:+.2f} ({row.gap_std:+.1f} std)" if row.gap is not None else "scratch"
        ax.annotate(gap, (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color=colour)
    for y, row in enumerate(order):
        if row is best or abs(difference(row.scores, best.scores)[1]) < NOISE_STD:
            ax.axhspan(y - 0.45, y + 0.45, color="tab:blue", alpha=0.08, zorder=0)
    ax.set_yticks(range(len(order)), [row.init for row in order])
    ax.set_xlabel(f"fine-tuned {metric} (%): mean ± std over seeds; small dots: seeds")
    ax.set_title(title or f"green / red: above / below scratch (dashed, grey: its std) by {NOISE_STD:g}+ pooled std; "
                 "grey: inside the noise\nblue rows: level with the best (inside its noise)", fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")


def render_cost_ms(config, samples: int = 20) -> float | None:
    """Milliseconds one process takes to make one pre-training sample of ``config.data`` (on the fly;
    None for a run that reads files), timed over ``samples`` samples after a first one."""
    import time

    from fdsl.data.datasets import load_categories
    from fdsl.registry import get_formula

    data = config.data
    if data.data_dir is not None:
        return None
    formula = get_formula(data.family, **data.formula)
    categories = load_categories(formula, dataclasses.replace(data, categories=min(data.categories, 10)))
    instances = min(data.instances, 5)
    formula.sample(categories[0], data.seed, 0, 0)
    start = time.perf_counter()
    for k in range(samples):
        category = k % len(categories)
        formula.sample(categories[category], data.seed, category, (k // len(categories)) % instances)
    return 1000 * (time.perf_counter() - start) / samples
