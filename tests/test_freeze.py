"""Frozen-layer fine-tuning: frozen stages keep their initial weights through training, the others
change, a linear probe trains the classifier only; stages follow timm's group_matcher."""
from __future__ import annotations

import pytest
import torch
from train_helpers import TINY_VIT, make_image_folder, tiny_finetune

from fdsl.cli import main
from fdsl.errors import FdslError
from fdsl.train.checkpoint import load_state, load_weights
from fdsl.tasks.classification.config import ModelConfig
from fdsl.tasks.classification.weights import build_model
from fdsl.train.run import finetune
from fdsl.train.trainer import seed_init
from fdsl.tasks.classification.freeze import freeze_stages, stage_groups
from fdsl.tasks.classification.models import create_model

TWO_BLOCKS = {"model": {"kwargs": {**TINY_VIT, "depth": 2}}, "train": {"epochs": 1}}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images") / "train")


def changed_after_training(config, out) -> dict[str, bool]:
    """Parameter name -> whether fine-tuning changed it (against the init the same config builds)."""
    classes = ["class0", "class1", "class2"]
    seed_init(config.train.seed)  # as the run seeds its model
    init = {k: v.clone() for k, v in build_model(config, classes, None).state_dict().items()}
    finetune(config, out)
    trained = load_weights(out / "last").state_dict
    return {name: not torch.equal(init[name], trained[name]) for name in init if "num_batches" not in name}


@pytest.mark.slow  # trains a model
def test_freeze_keeps_the_stem_and_first_blocks_at_their_init(images, tmp_path):
    config = tiny_finetune(images, TWO_BLOCKS, {"freeze": 1})
    changed = changed_after_training(config, tmp_path / "run")
    frozen = [n for n in changed if n.startswith(("patch_embed.", "blocks.0.")) or n in ("pos_embed", "cls_token")]
    assert frozen and not any(changed[n] for n in frozen)
    assert changed["head.weight"] and changed["blocks.1.attn.qkv.weight"] and changed["blocks.1.mlp.fc2.weight"]
    state = load_state(tmp_path / "run" / "state.pt")  # the optimiser holds the trainable parameters only
    in_optimizer = sum(len(group["params"]) for group in state["optimizer"]["param_groups"])
    assert in_optimizer == sum(1 for n in changed if n not in frozen)


@pytest.mark.slow  # trains a model
def test_linear_probe_changes_only_the_head(images, tmp_path):
    changed = changed_after_training(tiny_finetune(images, TWO_BLOCKS, {"linear_probe": True}), tmp_path / "run")
    assert changed["head.weight"] and changed["head.bias"]
    assert not any(value for name, value in changed.items() if not name.startswith("head."))


def test_resnet_stages_are_the_stem_then_layer1_to_4():
    model = create_model(ModelConfig(name="resnet10t"), num_classes=3)
    groups = stage_groups(model)
    assert len(groups) == 5 and groups[0][0].startswith("conv1") and groups[2][0].startswith("layer2.")
    frozen = freeze_stages(model, 2)
    assert "layer2.0.conv1.weight" in frozen and not any(n.startswith(("layer3", "fc")) for n in frozen)
    assert model.fc.weight.requires_grad and not model.conv1[0].weight.requires_grad
    with pytest.raises(FdslError, match=r"freeze = 5; allowed: 0\.\.4"):
        freeze_stages(create_model(ModelConfig(name="resnet10t"), num_classes=3), 5)


def test_cli_flags_set_the_config_fields(capsys):
    assert main(["finetune", "-o", "x", "--freeze", "2", "--linear-probe", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "freeze: 2" in text and "linear_probe: true" in text
    assert main(["finetune", "-o", "x", "--freeze", "-1", "--print-config"]) == 2
    assert "freeze = -1" in capsys.readouterr().err
