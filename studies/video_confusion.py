"""The confusion matrices of a video study's fine-tuned runs, summed over its folds (UD810's protocol:
leave-one-person-out, the 3 x 3 matrix summed over the folds), per init and seed, and over the seeds.

    python studies/video_confusion.py runs/video-cpu            # after `fdsl study studies/video-cpu.yaml`

Each run's final weights (``last/``, whose score the study reports) are scored again on the clips its
fold held out, as ``fdsl evaluate --task video`` scores them; rows are the true classes, columns the
predicted ones. Writes ``confusion.json`` beside ``study.json`` and prints the matrices.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from fdsl.configs import from_dict, load_yaml
from fdsl.tasks.video.config import VideoFolderConfig
from fdsl.tasks.video.objective import confusion_matrix, scores
from fdsl.tasks.video.weights import evaluation_dataset, load_model
from fdsl.train import distributed
from fdsl.train.checkpoint import load_weights
from fdsl.train.loaders import evaluation_loader


def run_confusion(run: Path) -> tuple[torch.Tensor, list[str]]:
    """The confusion matrix of the run's last weights on its validation clips, and the class names."""
    weights = load_weights(run / "last")
    data = from_dict(VideoFolderConfig, load_yaml(run / "config.yaml")["data"])
    loader = evaluation_loader(evaluation_dataset(weights, data), batch_size=8, workers=0,
                               context=distributed.setup("cpu"), timeout_s=300)
    matrix, _ = confusion_matrix(load_model(weights), loader, device=torch.device("cpu"),
                                 classes=len(weights.label_names))
    return matrix, weights.label_names


def study_confusions(study: Path) -> dict[str, dict[str, list[list[int]]]]:
    """init -> seed (and "all") -> the matrix summed over the folds."""
    folds = sorted(p for p in (study / "compare").iterdir() if (p / "results.json").is_file())
    found: dict[str, dict[str, torch.Tensor]] = {}
    for fold in folds:
        for run in sorted(fold.glob("*/seed*")):
            matrix, _ = run_confusion(run)
            per_seed = found.setdefault(run.parent.name, {})
            per_seed[run.name] = per_seed.get(run.name, 0) + matrix
    return {init: {**{seed: m.tolist() for seed, m in seeds.items()}, "all": sum(seeds.values()).tolist()}
            for init, seeds in found.items()}


def show(matrix: list[list[int]]) -> str:
    return "\n".join("  " + " ".join(f"{value:3d}" for value in row) for row in matrix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="the folder of `fdsl study studies/video-cpu.yaml -o FOLDER`")
    study = parser.parse_args().study
    torch.set_num_threads(1)
    confusions = study_confusions(study)
    (study / "confusion.json").write_text(json.dumps(confusions, indent=1))
    for init, seeds in confusions.items():
        for seed, matrix in seeds.items():
            accuracy = scores(torch.tensor(matrix))["top1"]
            print(f"{init} {seed} (rows: true class, columns: predicted; top-1 {accuracy:.2f}%)\n{show(matrix)}")


if __name__ == "__main__":
    main()
