"""The model card (``README.md``) beside every saved set of weights, so that a weights folder can
be uploaded to a model hub as it is (``huggingface-cli upload USER/REPO runs/x/best``).

The card opens with the YAML front matter the Hugging Face hub reads (``library_name: timm``,
``license``, ``pipeline_tag``, ``tags``; https://huggingface.co/docs/hub/model-cards), then gives
the architecture and its arguments, the training data and recipe, the result at the saved epoch,
how to load the weights with timm, and the licence: weights trained only on formula images take the
licence of that data (:mod:`fdsl.licensing`); fine-tuned weights name their real data, whose terms
apply.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fdsl.licensing import generated_data_license
from fdsl.provenance import card_section
from fdsl.registry import formula_class, list_formulas

CARD_FILE = "README.md"
TAGS = ["image-classification", "timm", "fdsl", "formula-driven-supervised-learning"]


def model_card(hf_config: dict[str, Any], meta: dict[str, Any], directory: Path, *, parameters: int) -> str:
    """The card of the weights in ``directory``: ``hf_config`` is timm's config.json written beside
    them, ``meta`` what the trainer recorded (task, resolved config, epoch and its metrics)."""
    licence = licence_of(meta)
    data = pretraining_data(meta) if meta["task"] == "pretrain" else finetuning_data(meta)
    sections = [
        front_matter(meta, licence),
        f"# {title(hf_config, meta)}\n\nWeights saved by fdsl (formula-driven supervised learning) after epoch "
        f"{meta['epoch']} of {meta['config']['train']['epochs']}.",
        architecture(hf_config, parameters),
        data,
        recipe(meta["config"]),
        result(meta),
        how_to_load(hf_config, directory),
        "## Licence\n\n" + licence["text"],
        card_section(meta.get("provenance")),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def front_matter(meta: dict[str, Any], licence: dict[str, Any]) -> str:
    family = meta["config"]["data"].get("family") if meta["task"] == "pretrain" else None
    header = {"library_name": "timm", "license": licence["id"], **licence.get("extra", {}),
              "pipeline_tag": "image-classification", "tags": TAGS + ([family] if family else [])}
    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---"


def title(hf_config: dict[str, Any], meta: dict[str, Any]) -> str:
    data = meta["config"]["data"]
    if meta["task"] == "pretrain":
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


def result(meta: dict[str, Any]) -> str:
    row = meta["metrics"]
    lines = ["## Result", "", f"- Epoch {row['epoch']}: training loss {row['train_loss']:.4f}"]
    if row.get("val_top1") is None:
        lines.append("- Validation: not scored at this epoch")
    else:
        where = "the held-out instances of each category" if meta["task"] == "pretrain" else "the validation split"
        lines.append(f"- Validation on {where}: top-1 {row['val_top1']:.2f}%, top-5 {row['val_top5']:.2f}%, "
                     f"loss {row['val_loss']:.4f}")
    return "\n".join(lines)


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


def licence_of(meta: dict[str, Any]) -> dict[str, Any]:
    """``{"id": hub licence id, "text": the card's licence section, "extra": more front matter}``."""
    return pretrain_licence(meta) if meta["task"] == "pretrain" else finetune_licence(meta)


def pretrain_licence(meta: dict[str, Any]) -> dict[str, Any]:
    data = meta["config"]["data"]
    if data.get("data_dir") and not any(Path(data["data_dir"]).glob("dataset_card*.json")):
        return {"id": "other", "extra": {"license_name": "training-data-terms"},
                "text": f"Pre-trained on the folder `{data['data_dir']}`, which holds no fdsl dataset card: the "
                        "licence of its images applies to these weights."}
    stated = generated_data_license(data["family"])
    if stated["spdx"] is None:
        return {"id": "other", "extra": {"license_name": "training-data-terms"},
                "text": f"Pre-trained on images {stated['note']}."}
    return {"id": stated["spdx"].lower(),
            "text": f"{stated['spdx']}. The pre-training images were {stated['note']}."}


def finetune_licence(meta: dict[str, Any]) -> dict[str, Any]:
    config = meta["config"]
    dataset, init = config["data"]["dataset"], config.get("init")
    lines = [f"Fine-tuned on real images: {dataset_description(dataset)}. The licence and terms of use of that dataset apply to these "
             "weights; check them before sharing the weights."]
    if init == "timm":
        lines.append(f"The starting point, timm's pretrained weights of `{config['model']['name']}`, has its own "
                     "licence (see its model card), which applies too.")
    elif init is not None and meta.get("init_data"):
        family = meta["init_data"]["family"]
        note = generated_data_license(family)["note"] if family in list_formulas() else f"of the family {family!r}"
        lines.append(f"The starting point `{init}` was pre-trained on images {note}.")
    elif init is not None:
        lines.append(f"The licence of the starting weights `{init}` applies too.")
    return {"id": "other", "extra": {"license_name": "training-data-terms"}, "text": " ".join(lines)}
