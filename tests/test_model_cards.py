"""Model cards (README.md beside every saved set of weights) and the licence that dataset and model
cards state: a tiny pre-training and a fine-tuning from it, their cards read back."""
from __future__ import annotations

import re

import pytest
import torch
import yaml
from train_helpers import make_image_folder, tiny_finetune, tiny_pretrain

from fdsl.data.writer import render_dataset
from fdsl.train.checkpoint import load_weights
from fdsl.train.run import finetune
from fdsl.tasks.classification.card import dataset_description
from fdsl.train.checkpoint import CARD_FILE
from fdsl.train.model_card import finetune_licence, pretrain_licence
from fdsl.train.run import pretrain
from fdsl.train.trainer import read_metrics

SECTIONS = ("## Model", "## Training recipe", "## Result", "## How to load", "## Licence")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny pre-training and a fine-tuning of its weights on a small ImageFolder."""
    root = tmp_path_factory.mktemp("cards")
    pretrain(tiny_pretrain(), root / "pre")
    images = make_image_folder(root / "images")
    finetune(tiny_finetune(images, {"init": str(root / "pre" / "last"), "new_head": True}), root / "ft")
    return root


def read_card(folder) -> tuple[dict, str]:
    """The front matter (parsed) and the body of a weights folder's model card."""
    text = (folder / CARD_FILE).read_text()
    match = re.fullmatch(r"---\n(.*?)\n---\n(.*)", text, flags=re.S)
    assert match, "the card does not open with YAML front matter"
    return yaml.safe_load(match.group(1)), match.group(2)


def result_line(row: dict) -> str:
    return f"top-1 {row['val_top1']:.2f}%, top-5 {row['val_top5']:.2f}%, loss {row['val_loss']:.4f}"


@pytest.mark.slow  # trains a model
def test_pretraining_cards_describe_model_data_recipe_result_and_licence(runs):
    rows = read_metrics(runs / "pre")
    best = max(rows, key=lambda row: row["val_top1"])
    for folder, row in (("last", rows[-1]), ("best", best)):
        header, body = read_card(runs / "pre" / folder)
        assert header["library_name"] == "timm" and header["license"] == "mit"
        assert load_weights(runs / "pre" / folder).config["pretrained_cfg"]["license"] == "mit"
        assert header["pipeline_tag"] == "image-classification" and "fractaldb" in header["tags"]
        assert all(section in body for section in SECTIONS + ("## Pre-training data",))
        assert "`vit_tiny_patch16_224`" in body and "'embed_dim': 32" in body and "Classes: 3" in body
        assert "Formula family: `fractaldb`" in body
        assert "Categories: 3, training instances per category: 8, held-out instances per category: 2" in body
        assert "| epochs | 2 |" in body and "| optimiser | adamw |" in body and "| learning rate | 0.001 |" in body
        assert f"- Epoch {int(row['epoch'])}: training loss {row['train_loss']:.4f}" in body
        assert result_line(row) in body
        assert "no third-party rights" in body and "MIT" in body.split("## Licence")[1]


@pytest.mark.slow  # trains a model
def test_the_card_s_loading_code_loads_the_weights_in_timm(runs):
    folder = runs / "pre" / "last"
    _, body = read_card(folder)
    code = re.search(r"```python\n(.*?)```", body, flags=re.S).group(1)
    assert f'"local-dir:{folder}"' in code and "pretrained_cfg_overlay" in code
    expected = load_weights(folder).state_dict
    local = [statement for statement in code.split("model = ")[1:] if "hf-hub:" not in statement]  # no upload
    assert len(local) == 2
    for statement in local:
        scope = {}
        exec("import timm\nmodel = " + statement.split("\n#")[0], scope)
        loaded = scope["model"].state_dict()
        assert all(torch.equal(loaded[key], value) for key, value in expected.items())


@pytest.mark.slow  # trains a model
def test_fine_tuning_cards_name_their_real_data_and_its_licence(runs):
    header, body = read_card(runs / "ft" / "best")
    assert header["license"] == "other" and header["library_name"] == "timm"
    assert load_weights(runs / "ft" / "best").config["pretrained_cfg"]["license"] == "other"
    assert "fractaldb" not in header["tags"]
    assert all(section in body for section in SECTIONS + ("## Fine-tuning data",))
    images = runs / "images"
    assert f"Dataset: the ImageFolder `{images}`" in body
    assert f"fdsl weights `{runs / 'pre' / 'last'}`, pre-trained on `fractaldb` (3 categories x 8 instances)" in body
    licence = body.split("## Licence")[1]
    assert f"`{images}`" in licence and "terms of use of that dataset apply" in licence
    assert "no third-party rights" in licence  # what the starting point was pre-trained on
    rows = read_metrics(runs / "ft")
    best = max(rows, key=lambda row: row["val_top1"])
    assert result_line(best) in body


@pytest.mark.slow  # trains a model
def test_licences_of_other_starting_points_and_of_a_folder_without_a_dataset_card(runs, tmp_path):
    config = {"data": {"dataset": "cifar10"}, "model": {"name": "resnet50"}}
    text = finetune_licence({"config": {**config, "init": "timm"}}, dataset_description)["text"]
    assert "`cifar10` (torchvision's)" in text and "timm's pretrained weights of `resnet50`" in text
    assert "starting" not in finetune_licence({"config": {**config, "init": None}})["text"]
    bare = pretrain_licence({"config": {"data": {"family": "fractaldb", "data_dir": str(tmp_path)}}})
    assert bare["id"] == "other" and "no fdsl dataset card" in bare["text"]


def test_dataset_cards_state_the_licence_of_the_generated_data(small_fractaldb, small_categories, tmp_path):
    card = render_dataset(small_fractaldb, small_categories[:1], tmp_path, seed=0, instances=1, workers=1,
                          progress=False)
    assert card["license"]["spdx"] == "MIT" and "no third-party rights" in card["license"]["note"]
    rendered_from = pretrain_licence({"config": {"data": {"family": "fractaldb", "data_dir": str(tmp_path)}}})
    assert rendered_from["id"] == "mit"
