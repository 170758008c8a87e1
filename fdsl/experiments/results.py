"""What the experiments return: typed results, their JSON form and their Markdown tables.

The JSON that ``compare`` (``results.json``) and ``study`` (``study.json``) write is
:func:`dataclasses.asdict` of these classes, so its keys are the field names; ``fdsl report`` reads them.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class RunScore:
    """One fine-tuning run of a comparison: final and best validation scores, and its curves. The
    score is the task's primary metric (top-1, mIoU, overall accuracy...), ``second`` the next one
    (top-5, pixel accuracy, mean class accuracy; None when the task has one)."""

    seed: int
    score: float
    second: float | None
    best: float | None
    #: The score per epoch (None where the epoch was not scored).
    curve: list[float | None]
    train_loss: list[float]

    @classmethod
    def of(cls, seed: int, result: Any, metrics: tuple[str, ...] = ("top1", "top5")) -> RunScore:
        """The scores of a :class:`fdsl.train.trainer.FitResult` (``metrics``: its objective's)."""
        first = f"val_{metrics[0]}"
        second = f"val_{metrics[1]}" if len(metrics) > 1 else None
        return cls(seed=seed, score=result.last[first], second=result.last.get(second) if second else None,
                   best=result.best[first] if result.best else None,
                   curve=[row[first] for row in result.history],
                   train_loss=[row["train_loss"] for row in result.history])


@dataclasses.dataclass(frozen=True)
class Group:
    """The runs of one init (scratch or a checkpoint), one per seed."""

    init: str
    #: The pre-trained weights; None for scratch.
    checkpoint: str | None
    runs: list[RunScore]

    @property
    def scores(self) -> list[float]:
        return [run.score for run in self.runs]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Scratch (the first group) and every checkpoint, fine-tuned with one recipe over the same seeds."""

    out: Path
    groups: list[Group]
    #: The scores of the task's objective, primary first (``top1``, ``top5``; ``miou``, ``pixel_acc``...).
    metrics: tuple[str, ...] = ("top1", "top5")

    @property
    def labels(self) -> list[str]:
        from fdsl.tasks import metric_label

        return [metric_label(m) for m in self.metrics[:2]]

    @property
    def table(self) -> str:
        """A Markdown table: final validation scores and the best primary one, mean ± std over seeds."""
        labels = self.labels
        header = ["init", "seeds", *(f"{label} (%)" for label in labels), f"best {labels[0]} (%)"]
        rows = [[g.init, str(len(g.runs)), mean_std([r.score for r in g.runs]),
                 *([mean_std([r.second for r in g.runs])] if len(labels) > 1 else []),
                 mean_std([r.best for r in g.runs])] for g in self.groups]
        return markdown_table(header, rows)

    def to_json(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "groups": [dataclasses.asdict(group) for group in self.groups]}


@dataclasses.dataclass(frozen=True)
class Pretraining:
    """What pre-training a study's variant cost and reached."""

    minutes: float
    #: The pre-training's primary score on its held-out formula samples (top-1, mIoU...).
    held_out: float | None
    epochs: int
    images: int
    held_out_metric: str = "top1"


@dataclasses.dataclass(frozen=True)
class StudyRow:
    """One init of a study: fine-tuned primary score per seed, mean, std and, but for scratch, the gap to
    scratch in points and in pooled standard deviations, and its pre-training."""

    init: str
    scores: list[float]
    mean: float
    std: float
    gap: float | None = None
    gap_std: float | None = None
    pretraining: Pretraining | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as ``study.json`` holds it: the pre-training's fields inline, no gap for scratch."""
        values = {"init": self.init, "scores": self.scores, "mean": self.mean, "std": self.std}
        values.update(dataclasses.asdict(self.pretraining) if self.pretraining else {})
        return values | ({"gap": self.gap, "gap_std": self.gap_std} if self.gap is not None else {})


def study_rows(groups: list[Group], pretraining: dict[str, Pretraining]) -> list[StudyRow]:
    """One row per group; the first group is scratch."""
    scratch = groups[0].scores
    rows = []
    for group in groups:
        scores = group.scores
        mean, std = statistics.fmean(scores), sample_std(scores)
        gap = gap_std = None
        if group is not groups[0]:
            gap, gap_std = difference(scores, scratch)
        rows.append(StudyRow(group.init, scores, mean, std, gap, gap_std, pretraining.get(group.init)))
    return rows


@dataclasses.dataclass(frozen=True)
class StudyResult:
    rows: list[StudyRow]
    #: Of a study with folds: the mean over the folds of each seed's runs (``folds`` holds each fold's).
    comparison: Comparison
    #: study.md: the table and how it was measured.
    report: str
    folds: dict[str, Comparison] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        values = {"rows": [row.to_json() for row in self.rows], **self.comparison.to_json()}
        return values | ({"folds": {name: fold.to_json() for name, fold in self.folds.items()}} if self.folds else {})


@dataclasses.dataclass(frozen=True)
class DemoReport:
    """What ``fdsl demo`` ran and measured; :attr:`text` is what it prints."""

    #: One line each: the pre-training run and the fine-tuning recipe.
    pretraining: str
    finetuning: str
    comparison: Comparison
    #: The pre-trained init against scratch.
    gap: StudyRow
    minutes: float
    pretraining_minutes: float
    #: The one-page HTML report (tables, curves, gallery, analysis).
    report: Path

    @property
    def text(self) -> str:
        seeds = len(self.gap.scores)
        return "\n".join([
            self.pretraining, self.finetuning, "", self.comparison.table, "",
            f"{self.gap.init} - scratch: {self.gap.gap:+.2f} points of {self.comparison.labels[0]}, {self.gap.gap_std:+.1f} pooled "
            f"standard deviations over {seeds} seeds",
            f"wall time: {self.minutes:.1f} min (pre-training {self.pretraining_minutes:.1f} min); "
            f"curves: {self.comparison.out / 'curves.png'}; report: {self.report}",
        ])


def difference(a: list[float], b: list[float]) -> tuple[float, float]:
    """(mean a - mean b, that gap in pooled standard deviations sqrt((s_a^2 + s_b^2) / 2))."""
    gap = statistics.fmean(a) - statistics.fmean(b)
    pooled = math.sqrt((sample_std(a) ** 2 + sample_std(b) ** 2) / 2)
    return gap, (gap / pooled if pooled > 0 else math.copysign(math.inf, gap) if gap else 0.0)


def sample_std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def mean_std(values: list[float | None]) -> str:
    if any(v is None for v in values):
        return "n/a"
    return f"{statistics.fmean(values):6.2f} ± {sample_std(values):5.2f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with its columns padded to a common width."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in [header, *rows]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
