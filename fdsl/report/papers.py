"""The papers' fine-tuning results, shown beside ours where the dataset matches, labelled as theirs.

Values: ../shared/reference/FORMULAS.md, "Results to compare against" (FractalDB, Kataoka et al.,
ACCV 2020 / IJCV 2022 for ResNet-50; Nakashima et al., AAAI 2022 for DeiT-Tiny): top-1 (%) after
fine-tuning on the full CIFAR training sets at 224 px.
"""
from __future__ import annotations

#: (architecture, paper) -> dataset -> pre-training -> top-1 (%).
PAPER_RESULTS = {
    ("resnet50", "FractalDB, ACCV 2020 / IJCV 2022"): {
        "cifar10": {"scratch": 87.6, "FractalDB-1k": 93.4, "FractalDB-10k": 94.1, "Perlin-100": 90.9,
                    "Bezier-1024": 89.7},
        "cifar100": {"scratch": 62.7, "FractalDB-1k": 75.7, "FractalDB-10k": 77.3, "Perlin-100": 70.2,
                     "Bezier-1024": 68.1},
    },
    ("deit_tiny_patch16_224", "Nakashima et al., AAAI 2022"): {
        "cifar10": {"scratch": 78.3, "FractalDB-1k": 96.8, "FractalDB-10k": 97.6, "ImageNet-1k": 98.0},
        "cifar100": {"scratch": 57.7, "FractalDB-1k": 81.6, "FractalDB-10k": 83.5, "ImageNet-1k": 85.5},
    },
}


def dataset_key(dataset: str) -> str | None:
    """'cifar10' or 'cifar100' for a dataset name or a path naming one (../shared/data/cifar10/train)."""
    lowered = str(dataset).lower()
    for key in ("cifar100", "cifar10"):
        if key in lowered:
            return key
    return None


def matching_results(dataset: str) -> list[tuple[str, str, dict[str, float]]]:
    """(architecture, paper, pre-training -> top-1) for every paper table on this dataset."""
    key = dataset_key(dataset)
    return [(arch, paper, tables[key]) for (arch, paper), tables in PAPER_RESULTS.items() if key in tables]
