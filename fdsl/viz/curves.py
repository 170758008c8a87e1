"""Training curves of several runs: one line per group (mean over its runs) with a +-1 std band; the
scores of several groups as bars (mean ± std) with one dot per run."""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from fdsl.atomic import atomic_path


def plot_curves(panels: dict[str, dict[str, list[list[float]]]], path: Path, *, title: str = "") -> None:
    """``panels``: y-axis label -> group label -> one list of per-epoch values per run."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.5 * len(panels), 4.0), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for ax, (ylabel, groups) in zip(axes, panels.items()):
        for label, runs in groups.items():
            length = min(len(run) for run in runs)
            values = np.array([run[:length] for run in runs], dtype=float)  # (runs, epochs); None -> NaN
            scored = np.isfinite(values).all(axis=0)  # epochs without a score (eval_interval) are skipped
            values, epochs = values[:, scored], np.arange(1, length + 1)[scored]
            mean = values.mean(axis=0)
            ax.plot(epochs, mean, marker="o", markersize=3, label=f"{label} (n={len(runs)})")
            if len(runs) > 1:
                std = values.std(axis=0, ddof=1)
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")


def plot_scores(groups: dict[str, list[float]], path: Path, *, title: str, metric: str = "top-1") -> None:
    """Mean ± sample std per group as bars (the first grey: the baseline), each run's score as a dot."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed

    figure = Figure(figsize=(max(4.0, 1.2 + 1.1 * len(groups)), 3.6), layout="constrained")
    ax = figure.subplots()
    for i, scores in enumerate(groups.values()):
        std = statistics.stdev(scores) if len(scores) > 1 else 0.0
        ax.bar(i, statistics.fmean(scores), yerr=std, color="0.75" if i == 0 else "C0", capsize=4)
        ax.plot([i] * len(scores), scores, "k.", markersize=5)
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    every = [score for scores in groups.values() for score in scores]
    ax.set_ylim(max(0.0, min(every) - 5), max(every) + 3)
    ax.set_ylabel(f"validation {metric} (%)")
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
