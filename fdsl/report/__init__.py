"""``fdsl report``: one static HTML page for a run, a comparison (``fdsl compare``'s folder) or a
study (``fdsl study``'s folder), found from the files in the folder.

The page holds the configs, a gallery of the pre-training data (rendered when the folder has
none), the curves, the result tables with the gap to scratch in points and in pooled standard
deviations, the analysis figures (``fdsl analyze``, run when asked or read from ``analysis/``) and
the papers' numbers on the same dataset, labelled as theirs. Images are embedded as data URIs, so
the one file opens offline; pictures made for the page are also kept in ``<name>_files/``.
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from fdsl.atomic import write_text_atomic
from fdsl.errors import FdslError, check
from fdsl.report import html
from fdsl.report.papers import matching_results

RUN, COMPARISON, STUDY = "run", "comparison", "study"


def detect(path: Path) -> str:
    """What ``path`` holds: a study (study.json), a comparison (results.json) or a run (config.yaml + metrics)."""
    check(path.is_dir(), f"report: {str(path)!r} is not a folder")
    if (path / "study.json").is_file():
        return STUDY
    if (path / "results.json").is_file():
        return COMPARISON
    if (path / "config.yaml").is_file() and ((path / "metrics.csv").is_file() or (path / "summary.json").is_file()):
        return RUN
    raise FdslError(f"report: {str(path)!r} is neither a run folder (config.yaml, metrics.csv), a comparison "
                    "(results.json) nor a study (study.json)")


def write_report(path: str | Path, out_html: str | Path, *, analyze_models: bool = False,
                 real_images: str | Path | None = None) -> str:
    """Write the page of the run, comparison or study in ``path`` to ``out_html``; returns its kind."""
    path, out_html = Path(path), Path(out_html)
    kind = detect(path)
    check(out_html.suffix.lower() in (".html", ".htm"), f"report: {str(out_html)!r}; allowed: an .html file path")
    assets = out_html.with_name(out_html.stem + "_files")
    assets.mkdir(parents=True, exist_ok=True)
    if kind == STUDY:
        sections = study_sections(path, assets)
        models, compare_dir = _analysis_models(path / "compare"), path / "compare"
    elif kind == COMPARISON:
        sections = comparison_sections(path, assets)
        models, compare_dir = _analysis_models(path), path
    else:
        sections = run_sections(path, assets, heading="run")
        models, compare_dir = {path.name: str(path)}, path
    sections += analysis_sections(models, assets, existing=compare_dir.parent / "analysis" if kind == STUDY
                                  else path / "analysis", run=analyze_models, real_images=real_images)
    write_text_atomic(out_html, html.page(f"fdsl {kind}: {path.resolve().name}", sections))
    return kind


# --- runs -------------------------------------------------------------------------------------------
def _config(run: Path) -> dict:
    from fdsl.configs import load_yaml

    return load_yaml(run / "config.yaml") if (run / "config.yaml").is_file() else {}


def run_sections(run: Path, assets: Path, *, heading: str) -> list[str]:
    """A run's config, curves and, for pre-training, a gallery of its data."""
    from fdsl.train.trainer import read_metrics
    from fdsl.viz.curves import plot_curves

    config = _config(run)
    parts = [f"<h2>{html.escape(heading)}: {html.escape(run.name)}</h2>"]
    if (run / "metrics.csv").is_file():
        history = read_metrics(run)
        curves = assets / f"curves-{_slug(run)}.png"
        panels = {"training loss": {run.name: [[r["train_loss"] for r in history]]}}
        scores = [key for key in (history[0] if history else {}) if key.startswith("val_") and key != "val_loss"]
        if scores and any(r.get(scores[0]) is not None for r in history):
            from fdsl.tasks import metric_label

            panels[f"validation {metric_label(scores[0])} (%)"] = {run.name: [[r[scores[0]] for r in history]]}
        plot_curves(panels, curves, title=f"{run.name}: {len(history)} epochs")
        parts.append(html.figure(curves, f"curves of {run}"))
    if isinstance(config.get("data"), dict) and "family" in config["data"]:
        gallery = pretraining_gallery(run, config, assets)
        parts.append(html.figure(gallery, f"pre-training data: {config['data']['family']} (rows: categories, "
                                          "columns: instances)"))
        animation = pretraining_animation(run, config, assets)
        if animation is not None:
            parts.append(html.figure(animation, f"the same clips playing ({config['data']['family']}, the first "
                                                "categories and instances; animated WebP)"))
    if (run / "config.yaml").is_file():
        parts.append(html.details(f"config.yaml of {run.name}", (run / "config.yaml").read_text()))
    return parts


def pretraining_gallery(run: Path, config: dict, assets: Path) -> Path:
    """The run's (or its parent's, as ``fdsl demo`` writes) gallery.png, else one rendered now."""
    for existing in (run / "gallery.png", run.parent / "gallery.png"):
        if existing.is_file():
            return existing
    import dataclasses

    from fdsl.data.config import FormulaDataConfig
    from fdsl.data.datasets import load_categories
    from fdsl.registry import get_formula
    from fdsl.configs import from_dict
    from fdsl.viz.gallery import formula_gallery, save_png

    data = from_dict(FormulaDataConfig, config["data"])
    data = dataclasses.replace(data, categories=min(6, data.categories))
    formula = get_formula(data.family, **data.formula)
    image = formula_gallery(formula, load_categories(formula, data), seed=data.seed,
                            instances=list(range(min(6, data.instances))), tile=64)
    path = assets / f"gallery-{_slug(run)}.png"
    save_png(image, path)
    return path


def pretraining_animation(run: Path, config: dict, assets: Path) -> Path | None:
    """For a clip family (the video kind), its first categories and instances as one animation that
    plays in the page (lossy WebP); None for other kinds."""
    from fdsl.configs import from_dict
    from fdsl.data.config import FormulaDataConfig
    from fdsl.data.datasets import load_categories
    from fdsl.registry import formula_class, get_formula
    from fdsl.viz.animation import formula_animation, save_animation

    data = from_dict(FormulaDataConfig, config["data"])
    if formula_class(data.family).kind.name != "video":
        return None
    import dataclasses

    data = dataclasses.replace(data, categories=min(4, data.categories))
    formula = get_formula(data.family, **data.formula)
    clip = formula_animation(formula, load_categories(formula, data), seed=data.seed,
                             instances=list(range(min(3, data.instances))), tile=64)
    path = assets / f"animation-{_slug(run)}.webp"
    save_animation(clip, path, quality=80)
    return path


def _slug(path: Path) -> str:
    return "-".join(path.resolve().parts[-2:]).replace(" ", "_")


# --- comparisons and studies ------------------------------------------------------------------------
def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise FdslError(f"report: {str(path)!r} is not valid JSON ({error})") from None


def _mean_std(values: list[float | None]) -> tuple[float, float] | None:
    if not values or any(v is None for v in values):
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def gap_rows(groups: list[dict]) -> list[list[str]]:
    """Per init: seeds, final primary and second score (mean ± std), gap to scratch in points and in pooled stds."""
    base = _mean_std([r["score"] for r in groups[0]["runs"]])
    rows = []
    for group in groups:
        first, second = _mean_std([r["score"] for r in group["runs"]]), _mean_std([r["second"] for r in group["runs"]])
        gap = gap_std = "-"
        if group is not groups[0] and first and base:
            pooled = math.sqrt((first[1] ** 2 + base[1] ** 2) / 2)
            gap = f"{first[0] - base[0]:+.2f}"
            gap_std = f"{(first[0] - base[0]) / pooled:+.1f}" if pooled > 0 else "n/a (std 0)"
        rows.append([group["init"], len(group["runs"]), _fmt(first), _fmt(second), gap, gap_std])
    return rows


def _fmt(value: tuple[float, float] | None) -> str:
    return "n/a" if value is None else f"{value[0]:.2f} ± {value[1]:.2f}"


def comparison_sections(folder: Path, assets: Path) -> list[str]:
    from fdsl.tasks import metric_label

    results = _read_json(folder / "results.json")
    groups = results["groups"]
    metrics = [metric_label(m) for m in results.get("metrics", ("top1", "top5"))] + ["-"]
    check(bool(groups), f"report: {str(folder / 'results.json')!r} holds no groups")
    first = folder / groups[0]["init"] / f"seed{groups[0]['runs'][0]['seed']}"
    config = _config(first)
    parts = ["<h2>fine-tuning results (ours)</h2>",
             html.table(["init", "seeds", f"{metrics[0]} (%)", f"{metrics[1]} (%)", "gap (points)", "gap (std)"],
                        gap_rows(groups)),
             html.paragraph("final-epoch validation scores, mean ± sample std over seeds; gap (std) = gap to "
                            "scratch / pooled std of the two arms", "note")]
    if (folder / "curves.png").is_file():
        parts.append(html.figure(folder / "curves.png", "fine-tuning curves (mean ± std over seeds)"))
    parts += predictions_section(folder, groups, config, assets)
    parts += papers_section(config)
    if (first / "config.yaml").is_file():
        parts.append(html.details("fine-tuning config (scratch, first seed)", (first / "config.yaml").read_text()))
    for group in groups[1:]:
        run = run_of_checkpoint(group.get("checkpoint"), folder)
        if run is not None:
            parts += run_sections(run, assets, heading=f"pre-training of {group['init']}")
    return parts


def predictions_section(folder: Path, groups: list[dict], config: dict, assets: Path) -> list[str]:
    """The final weights of each init's first seed, their predictions beside the truth on validation
    images, when the runs' task draws them (:meth:`fdsl.tasks.Task.draw_predictions`)."""
    from fdsl.config_fields import sections
    from fdsl.configs import from_dict
    from fdsl.tasks import get_task, list_tasks, task_of_weights

    weights = {g["init"]: folder / g["init"] / f"seed{g['runs'][0]['seed']}" / "last" for g in groups}
    first = next(iter(weights.values())) / "config.json"
    task = task_of_weights(_read_json(first)) if first.is_file() else None
    if task not in list_tasks() or not isinstance(config.get("data"), dict):
        return []
    task = get_task(task)
    data = from_dict(sections(task.finetune_config)["data"], config["data"])
    path = assets / f"predictions-{_slug(folder)}.png"
    if not all(w.is_dir() for w in weights.values()) or not task.draw_predictions(weights, data, path):
        return []
    return [html.figure(path, "predictions on validation images beside the truth (each init's final weights, "
                              "its first seed)")]


def study_sections(folder: Path, assets: Path) -> list[str]:
    rows = _read_json(folder / "study.json")["rows"]
    header = ["init", "held-out score (pre-training)", "fine-tuned score (%)", "gap (points)", "gap (std)"]
    table = [[r["init"], f"{r['held_out_metric']} {r['held_out']:.1f}%" if r.get("held_out") is not None else "-",
              f"{r['mean']:.2f} ± {r['std']:.2f}", f"{r['gap']:+.2f}" if "gap" in r else "-",
              f"{r['gap_std']:+.1f}" if "gap_std" in r else "-"] for r in rows]
    parts = ["<h2>study (ours)</h2>", html.table(header, table)]
    parts += fold_tables(_read_json(folder / "study.json").get("folds") or {})
    if (folder / "study.md").is_file():
        text = (folder / "study.md").read_text().split("\n## Ranking")[0]  # the ranking has a section of its own
        notes = [line for line in text.splitlines() if line and not line.startswith("|")]
        parts += [html.paragraph(line, "note") for line in notes]
    if (folder / "study.png").is_file():
        parts.append(html.figure(folder / "study.png", "fine-tuned score per init: mean ± std, one dot per seed"))
    parts += ranking_sections(folder)
    if (folder / "compare" / "results.json").is_file():
        parts += comparison_sections(folder / "compare", assets)
    return parts


def ranking_sections(folder: Path) -> list[str]:
    """ranking.md's tables (the ranking, the papers' claims) and notes, and ranking.png."""
    if not (folder / "ranking.md").is_file():
        return []
    parts = []
    for block in (folder / "ranking.md").read_text().split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("## "):
            parts.append(f"<h2>{html.escape(lines[0][3:])}</h2>")
        elif lines and lines[0].startswith("|"):
            cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if not line.startswith("|-")]
            parts.append(html.table(cells[0], cells[1:]))
        elif lines:
            parts.append(html.paragraph(" ".join(lines), "note"))
        if lines and lines[0] == "## Ranking" and (folder / "ranking.png").is_file():
            parts.append(html.figure(folder / "ranking.png", "every arm by its mean fine-tuned score: which "
                                     "differences lie inside the noise"))
    return parts


def fold_tables(folds: dict[str, dict]) -> list[str]:
    """A study with folds: each fold's scores per init (mean ± std over seeds) and the gap to scratch."""
    from fdsl.tasks import metric_label

    parts = []
    for name, fold in folds.items():
        labels = [metric_label(m) for m in fold.get("metrics", ("top1", "top5"))] + ["-"]
        header = ["init", "seeds", f"{labels[0]} (%)", f"{labels[1]} (%)", "gap (points)", "gap (std)"]
        parts.append(html.table(header, gap_rows(fold["groups"]), caption=f"fold {name}"))
    return parts


def run_of_checkpoint(checkpoint: str | None, folder: Path) -> Path | None:
    """The pre-training run of a comparison's checkpoint. A relative checkpoint was relative to the
    directory the comparison ran in, which may not be this one: also tried from each parent of ``folder``."""
    if not checkpoint:
        return None
    path = Path(checkpoint)
    run = path.parent if path.name in ("last", "best") or path.suffix == ".safetensors" else path
    candidates = [run] if run.is_absolute() else [run, *(parent / run for parent in Path(folder).resolve().parents)]
    return next((candidate for candidate in candidates if (candidate / "config.yaml").is_file()), None)


def papers_section(config: dict) -> list[str]:
    """The papers' tables on the same dataset, labelled as theirs, with how their setting differs."""
    dataset = str((config.get("data") or {}).get("dataset", ""))
    ours = str((config.get("model") or {}).get("name", "?"))
    parts = []
    for arch, paper, values in matching_results(dataset):
        same = "the same architecture" if arch == ours else f"a different architecture (ours: {ours})"
        parts += [f'<div class="papers"><h3>the papers\' numbers, not ours: {html.escape(arch)} ({html.escape(paper)})</h3>',
                  html.table(["pre-training (paper)", "top-1 (%) (paper)"], [[k, f"{v:.1f}"] for k, v in values.items()]),
                  html.paragraph(f"{arch} fine-tuned on the full training set at 224 px: {same}, another image "
                                 "size and amount of data; compare the order of the inits, not the values.", "note"),
                  "</div>"]
    return parts


# --- analysis ---------------------------------------------------------------------------------------
FIGURE_CAPTIONS = {
    "filters.png": "first-layer filters (RGB; each filter scaled by its largest weight, grey = 0)",
    "filters_grey.png": "first-layer filters (mean over the colour channels)",
    "position_embedding.png": "cosine similarity of each patch's position embedding to every patch's",
    "attention_formula.png": "last-layer [CLS] attention and attention rollout over formula images",
    "attention_real.png": "last-layer [CLS] attention and attention rollout over real images",
    "attention_distance_formula.png": "mean attention distance per layer and head, formula images",
    "attention_distance_real.png": "mean attention distance per layer and head, real images",
}


def _analysis_models(compare_dir: Path) -> dict[str, str]:
    """label -> weights: each init's model fine-tuned with the first seed and, but for scratch, pre-trained."""
    if not (compare_dir / "results.json").is_file():
        return {}
    models = {}
    for group in _read_json(compare_dir / "results.json")["groups"]:
        run = run_of_checkpoint(group.get("checkpoint"), compare_dir)
        if run is not None:
            models[f"{group['init']} pre-trained"] = str(run)
        tuned = compare_dir / group["init"] / f"seed{group['runs'][0]['seed']}"
        if tuned.is_dir():
            models[f"{group['init']} fine-tuned"] = str(tuned)
    return models


def analysis_sections(models: dict[str, str], assets: Path, *, existing: Path, run: bool,
                      real_images: str | Path | None) -> list[str]:
    """The figures and distances of ``fdsl analyze`` (run now with ``run``, else read from ``existing``)."""
    parts = ["<h2>what the models learned (fdsl analyze)</h2>"]
    if run and models:
        from fdsl.analysis.analyze import analyze

        folder = assets / "analysis"
        try:
            report = analyze(list(models.values()), folder, labels=list(models), real_images=real_images)
        except FdslError as error:  # e.g. segmentation or point-cloud models: the page is still written
            return parts + [html.paragraph(f"not applicable: {error}", "note")]
    elif (existing / "analysis.json").is_file():
        folder, report = existing, _read_json(existing / "analysis.json")
    else:
        return parts + [html.paragraph("no analysis here: run `fdsl report --analyze` or `fdsl analyze RUN... "
                                       f"-o {existing}`", "note")]
    for name in report["figures"]:
        if (folder / name).is_file():
            parts.append(html.figure(folder / name, FIGURE_CAPTIONS.get(name, name)))
    for images, per_model in report.get("mean_attention_distance_px", {}).items():
        layers = max(len(v) for v in per_model.values())
        rows = [[label] + [f"{statistics.fmean(heads):.1f}" for heads in values] for label, values in per_model.items()]
        parts.append(html.table(["model"] + [f"layer {i + 1}" for i in range(layers)], rows,
                                caption=f"mean attention distance (pixels, mean over heads), {images} images"))
    parts += [html.paragraph(f"not applicable: {line}", "note") for line in report.get("not_applicable", [])]
    return parts
