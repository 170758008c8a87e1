"""The model card (``README.md``) of classification weights, so that a weights folder can be uploaded
to a model hub as it is (``huggingface-cli upload USER/REPO runs/x/best``): after the shared front
matter (:mod:`fdsl.train.model_card`, ``library_name: timm``), the architecture and its arguments, the
training data and recipe, the result at the saved epoch, how to load the weights with timm, the
licence and the provenance.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fdsl.registry import formula_class
from fdsl.tasks import PRETRAIN
from fdsl.train.model_card import assemble, family_tag, front_matter, licence_of, result

PIPELINE_TAG = "image-classification"


def model_card(hf_config: dict[str, Any], directory: Path, *, parameters: int) -> str:
    """The card of the weights in ``directory``: ``hf_config`` is timm's config.json written beside
    them, with what the run recorded under ``fdsl`` (task, phase, resolved config, epoch, metrics)."""
    meta = hf_config["fdsl"]
    licence = licence_of(meta, dataset_description)
    data = pretraining_data(meta) if meta["phase"] == PRETRAIN else finetuning_data(meta)
    return assemble(
        front_matter(library="timm", licence=licence, pipeline_tag=PIPELINE_TAG, tags=["timm", *family_tag(meta)]),
        f"# {title(hf_config, meta)}\n\nWeights saved by fdsl (formula-driven supervised learning) after epoch "
        f"{meta['epoch']} of {meta['config']['train']['epochs']}.",
        architecture(hf_config, parameters),
        data,
        recipe(meta["config"]),
        result(meta, ("top1", "top5")),
        how_to_load(hf_config, directory),
        "## Licence\n\n" + licence["text"],
        meta=meta,
    )


def title(hf_config: dict[str, Any], meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    if meta["phase"] == PRETRAIN:
        return f"{hf_config['architecture']} pre-trained on {data['family']} ({data['categories']} categories)"
    return f"{hf_config['architecture']} fine-tuned on {data['dataset']}"


def architecture(hf_config: dict[str, Any], parameters: int) -> str:
    cfg = hf_config.get("pretrained_cfg", {})
    args = {k: v for k, v in (hf_config.get("model_args") or {}).items() if k != "num_classes"}
    return "\n".join([
        "## Model",
        "",
        f"- Architecture: `{hf_config['architecture']}` (timm), {parameters:,} parameters",
        f"- model_args: `{args}`" if args else "- model_args: none (timm's defaults)",
        f"- Classes: {hf_config['num_classes']} (their names: `label_names` in config.json)",
        f"- Input: {' x '.join(map(str, cfg.get('input_size', [])))}, mean {cfg.get('mean')}, std {cfg.get('std')}, "
        f"{cfg.get('interpolation')} interpolation, crop_pct {cfg.get('crop_pct')}",
    ])


def pretraining_data(meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    family = data["family"]
    summary = ((formula_class(family).__doc__ or "").strip().splitlines() or [""])[0]
    source = f"the rendered folder `{data['data_dir']}`" if data.get("data_dir") else "rendered on the fly"
    return "\n".join([
        "## Pre-training data",
        "",
        f"- Formula family: `{family}`{f': {summary}' if summary else ''}",
        f"- Categories: {data['categories']}, training instances per category: {data['instances']}, "
        f"held-out instances per category: {data['val_instances']}, repeats per epoch: {data['repeats']}",
        f"- Images: {source}, seed {data['seed']}; categories "
        + (f"read from `{data['param_dir']}`" if data.get("param_dir") else "searched from the seed"),
        f"- Family options: `{data['formula'] or 'the papers defaults'}`",
    ])


def finetuning_data(meta: dict[str, Any]) -> str:
    config = meta["config"]
    data, init = config["data"], config.get("init")
    validation = {None: f"the last {data['holdout']:.0%} of each class, held out",
                  "test": "the dataset's official test split"}.get(data["val"], f"the ImageFolder `{data['val']}`")
    lines = ["## Fine-tuning data", "",
             f"- Dataset: {dataset_description(data['dataset'])}"
             + (f", the first {data['train_per_class']} training images of each class" if data["train_per_class"]
                else ""),
             f"- Validation: {validation}"
             + (f" (first {data['val_per_class']} images of each class)" if data["val_per_class"] else ""),
             f"- Initialisation: {initialisation(init, meta.get('init_data'), config['model']['name'])}"]
    return "\n".join(lines)


def dataset_description(dataset: str) -> str:
    from fdsl.data.datasets import NAMED_DATASETS

    return f"`{dataset}` (torchvision's)" if dataset in NAMED_DATASETS else f"the ImageFolder `{dataset}`"


def initialisation(init: str | None, init_data: dict[str, Any] | None, arch: str) -> str:
    if init is None:
        return "from scratch (random weights)"
    if init == "timm":
        return f"timm's pretrained weights of `{arch}`"
    if init_data:
        return (f"fdsl weights `{init}`, pre-trained on `{init_data['family']}` "
                f"({init_data['categories']} categories x {init_data['instances']} instances)")
    return f"the weights `{init}`"


def recipe(config: dict[str, Any]) -> str:
    optim, train, augment = config["optim"], config["train"], config["augment"]
    lr = f"{optim['lr']:g}" + (f" x global batch / {optim['lr_base_batch']}" if optim["lr_base_batch"] else "")
    schedule = optim["sched"] + (f", warm-up epochs: {optim['warmup_epochs']}" if optim["warmup_epochs"] else "") \
        + (f", milestones {optim['decay_milestones']}" if optim["sched"] == "multistep" else "")
    augmentation = ", ".join(
        f"{name} {augment[key]}" for name, key in (("RandAugment", "auto_augment"), ("mixup", "mixup"),
                                                   ("cutmix", "cutmix"), ("label smoothing", "label_smoothing"),
                                                   ("random erasing", "re_prob")) if augment[key]
    ) or "random resized crops and flips only"
    rows = [("epochs", train["epochs"]), ("batch size per process", train["batch_size"]),
            ("optimiser", optim["opt"]), ("learning rate", lr), ("weight decay", optim["weight_decay"]),
            ("schedule", schedule), ("image size", augment["img_size"]), ("augmentation", augmentation),
            ("drop path", config["model"].get("drop_path")), ("seed", train["seed"])]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return (f"## Training recipe\n\n| setting | value |\n| --- | --- |\n{table}\n\n"
            "<details><summary>The resolved config (fdsl's config.yaml of the run)</summary>\n\n"
            f"```yaml\n{yaml.safe_dump(config, sort_keys=False)}```\n\n</details>")


def how_to_load(hf_config: dict[str, Any], directory: Path) -> str:
    n = hf_config["num_classes"]
    args = "".join(f", {k}={v!r}" for k, v in (hf_config.get("model_args") or {}).items() if k != "num_classes")
    return "\n".join([
        "## How to load (timm; fdsl is not needed)",
        "",
        "```python",
        "import timm",
        "",
        f'model = timm.create_model("local-dir:{directory}", pretrained=True)',
        "# or, naming the architecture:",
        f'model = timm.create_model("{hf_config["architecture"]}", pretrained=True, num_classes={n}{args},',
        f'                          pretrained_cfg_overlay=dict(file="{directory / "model.safetensors"}", '
        f"num_classes={n}))",
        "# once this folder is uploaded to the Hugging Face hub as USER/REPO:",
        'model = timm.create_model("hf-hub:USER/REPO", pretrained=True)',
        "```",
    ])
