"""The training library: pretrain then finetune, exact resume, timm-loadable weights, fine-tuning
adaptations (new head, resized position embeddings), the engine's non-finite stop, configs."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image, ImageOps
from train_helpers import TINY_PRETRAIN, TINY_VIT, interrupt_epoch, make_image_folder, tiny_finetune, tiny_pretrain

from fdsl.errors import FdslError
from fdsl.train import trainer
from fdsl.tasks.classification.augment import build_transforms
from fdsl.train.checkpoint import load_weights
from fdsl.configs import parse_assignment, resolve
from fdsl.tasks.classification.config import AugmentConfig, ModelConfig, PretrainConfig
from fdsl.train.engine import NonFiniteLoss, SupervisedStep, train_one_epoch
from fdsl.tasks import get_task
from fdsl.tasks.classification.weights import build_model, resolve_init
from fdsl.train.run import evaluate_weights, finetune
from fdsl.tasks.classification.models import create_model
from fdsl.tasks.classification.presets import PRETRAIN_PRESETS, pretrain_preset
from fdsl.train.run import pretrain

RUN_FILES = {"config.yaml", "metrics.csv", "run.json", "state.pt", "summary.json", "last", "best", "tb"}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny ViT pre-trained for two epochs on three FractalDB categories, on the fly."""
    out = tmp_path_factory.mktemp("pretrain") / "run"
    return pretrain(tiny_pretrain(), out), out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images") / "train")


@pytest.mark.slow  # trains a model
def test_pretrain_writes_a_complete_run_folder(pretrained):
    result, out = pretrained
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert all(0.0 <= row["val_top1"] <= 100.0 and row["train_loss"] > 0 for row in result.history)
    assert trainer.read_metrics(out)[1]["val_top1"] == pytest.approx(result.history[1]["val_top1"])
    weights = load_weights(out / "last")
    assert weights.label_names == ["00000", "00001", "00002"]
    assert weights.config["architecture"] == "vit_tiny_patch16_224"
    assert weights.config["model_args"]["embed_dim"] == 32
    assert len(list((out / "tb").iterdir())) == 1


@pytest.mark.slow  # trains a model
def test_pretrain_then_finetune_end_to_end(pretrained, images, tmp_path):
    _, run = pretrained
    config = tiny_finetune(images, {"init": str(run / "last"), "new_head": True})
    result = finetune(config, tmp_path / "ft")
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert {p.name for p in (tmp_path / "ft").iterdir()} == RUN_FILES
    summary = json.loads((tmp_path / "ft" / "summary.json").read_text())
    assert summary["best"]["val_top1"] == max(row["val_top1"] for row in result.history)
    best = load_weights(tmp_path / "ft" / "best")
    assert best.label_names == ["class0", "class1", "class2"]
    scores = evaluate_weights(get_task("classification"), tmp_path / "ft" / "best", config.data, workers=0)
    assert scores["images"] == 6  # 25% of 8 per class, 3 classes
    assert scores["top1"] == pytest.approx(summary["best"]["val_top1"])


@pytest.mark.slow  # trains a model
def test_finetune_model_starts_from_the_checkpoint_with_a_new_head(pretrained, images):
    _, run = pretrained
    config, weights = resolve_init(tiny_finetune(images, {"init": str(run / "last"), "new_head": True}))
    assert config.model.name == "vit_tiny_patch16_224" and config.model.kwargs["embed_dim"] == 32
    model = build_model(config, ["a", "b"], weights)
    state = model.state_dict()
    assert torch.equal(state["blocks.0.attn.qkv.weight"], weights.state_dict["blocks.0.attn.qkv.weight"])
    assert state["head.weight"].shape == (2, 32) and weights.state_dict["head.weight"].shape == (3, 32)


@pytest.mark.slow  # trains a model
def test_classes_that_differ_need_a_new_head(pretrained, images):
    _, run = pretrained
    config, weights = resolve_init(tiny_finetune(images, {"init": str(run / "last")}))
    with pytest.raises(FdslError, match="trained on 3 classes .* pass --new-head"):
        build_model(config, ["class0", "class1", "class2"], weights)


@pytest.mark.slow  # trains a model
def test_vit_position_embeddings_follow_the_new_image_size(pretrained, images):
    from timm.layers import resample_abs_pos_embed

    _, run = pretrained
    config, weights = resolve_init(tiny_finetune(images, {"init": str(run / "last"), "new_head": True,
                                                         "augment": {"img_size": 48}}))
    model = build_model(config, ["a", "b"], weights)
    old = weights.state_dict["pos_embed"]  # 1 class token + 4 x 4 patches
    assert old.shape == (1, 17, 32) and model.pos_embed.shape == (1, 37, 32)  # 1 + 6 x 6
    assert torch.allclose(model.pos_embed, resample_abs_pos_embed(old, new_size=[6, 6], num_prefix_tokens=1))
    assert model(torch.zeros(1, 3, 48, 48)).shape == (1, 2)


@pytest.mark.slow  # trains a model
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    # Every random source at once: RandAugment and random erasing in a worker process, mixup and
    # cutmix (NumPy's global generator), drop-path (torch's), shuffling.
    layer = {"augment": {"auto_augment": "rand-m9-mstd0.5-inc1", "re_prob": 0.5, "mixup": 0.8, "cutmix": 1.0},
             "model": {"drop_path": 0.1}, "train": {"epochs": 3, "workers": 1}}
    whole = pretrain(tiny_pretrain(layer), tmp_path / "whole")

    # the third epoch is cut short, after two checkpoints
    interrupt_epoch(monkeypatch, 3, lambda: pretrain(tiny_pretrain(layer), tmp_path / "cut"))
    assert len(trainer.read_metrics(tmp_path / "cut")) == 2
    resumed = pretrain(tiny_pretrain(layer), tmp_path / "cut", resume=True)

    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    for row_a, row_b in zip(whole.history, resumed.history):
        assert row_a["train_loss"] == pytest.approx(row_b["train_loss"], rel=1e-5)
        assert row_a["val_top1"] == row_b["val_top1"]
    # and a different seed gives different weights: the comparison above can fail
    other = pretrain(tiny_pretrain(layer, {"train": {"seed": 1, "epochs": 1}}), tmp_path / "other")
    assert other.history[0]["train_loss"] != pytest.approx(whole.history[0]["train_loss"], rel=1e-5)


@pytest.mark.slow  # trains a model
def test_resume_refuses_a_changed_config_and_a_run_needs_resume(pretrained):
    _, run = pretrained
    with pytest.raises(FdslError, match="already holds a run; pass --resume"):
        pretrain(tiny_pretrain(), run)
    with pytest.raises(FdslError, match=r"differs in optim\.lr"):
        pretrain(tiny_pretrain({"optim": {"lr": 0.5}}), run, resume=True)


@pytest.mark.slow  # trains a model
def test_eval_interval_scores_some_epochs_and_the_last_without_changing_training(pretrained, tmp_path):
    every, _ = pretrained  # two epochs, scored after each
    sparse = pretrain(tiny_pretrain({"train": {"eval_interval": 5}}), tmp_path / "sparse")
    assert [row["val_top1"] is None for row in sparse.history] == [True, False]
    assert sparse.last["val_top1"] == every.last["val_top1"]
    assert sparse.last["train_loss"] == pytest.approx(every.last["train_loss"], rel=1e-6)
    assert (tmp_path / "sparse" / "best").is_dir()


@pytest.mark.slow  # trains a model
def test_a_config_key_added_since_a_run_was_saved_resumes_at_its_default(pretrained, tmp_path):
    import shutil

    _, run = pretrained
    old = tmp_path / "old"
    shutil.copytree(run, old)
    config = old / "config.yaml"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if "eval_interval" not in line))
    assert pretrain(tiny_pretrain(), old, resume=True).last["epoch"] == 2
    with pytest.raises(FdslError, match=r"differs in train\.eval_interval"):
        pretrain(tiny_pretrain({"train": {"eval_interval": 3}}), old, resume=True)


@pytest.mark.slow  # trains a model
def test_config_yaml_holds_every_family_option_and_an_older_partial_one_resumes(pretrained, tmp_path):
    import shutil

    import yaml

    from fdsl.registry import formula_class

    _, run = pretrained
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]["formula"]
    partial = TINY_PRETRAIN["data"]["formula"]  # what the recipe sets: size, points, search size and points
    assert saved == formula_class("fractaldb").Config(**partial).to_dict() and len(saved) > len(partial) + 5
    old = tmp_path / "old"  # a run saved before configs were completed: only the options it set
    shutil.copytree(run, old)
    config = yaml.safe_load((old / "config.yaml").read_text())
    config["data"]["formula"] = {k: saved[k] for k in ("size", "points", "search_size", "search_points", "graded")}
    (old / "config.yaml").write_text(yaml.safe_dump(config))
    assert pretrain(tiny_pretrain(), old, resume=True).last["epoch"] == 2
    with pytest.raises(FdslError, match=r"differs in data\.formula\.interval"):
        pretrain(tiny_pretrain({"data": {"formula": {**partial, "interval": 0.1}}}), old, resume=True)


@pytest.mark.slow  # trains a model
def test_weights_load_in_plain_timm_without_fdsl(pretrained, tmp_path):
    _, run = pretrained
    model = create_model(ModelConfig(name="vit_tiny_patch16_224", kwargs=TINY_VIT), num_classes=3)
    model.load_state_dict(load_weights(run / "last").state_dict)
    inputs = torch.rand(2, 3, 32, 32)
    torch.save({"inputs": inputs, "logits": model.eval()(inputs).detach()}, tmp_path / "reference.pt")
    script = f"""
import json, sys, timm, torch
ref = torch.load({str(tmp_path / 'reference.pt')!r}, weights_only=True)
cfg = json.load(open({str(run / 'last' / 'config.json')!r}))
a = timm.create_model("local-dir:{run / 'last'}", pretrained=True).eval()
n = cfg["num_classes"]
b = timm.create_model(cfg["architecture"], pretrained=True, num_classes=n,
                      pretrained_cfg_overlay=dict(file={str(run / 'last' / 'model.safetensors')!r}, num_classes=n),
                      **{{k: v for k, v in cfg["model_args"].items() if k != "num_classes"}}).eval()
for model in (a, b):
    assert torch.allclose(model(ref["inputs"]), ref["logits"], atol=1e-5), "logits differ"
assert not any(name.startswith("fdsl") for name in sys.modules), "fdsl was imported"
print("ok", n)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "3"]


@pytest.mark.slow  # trains a model
def test_resnet_pretrains_too(tmp_path):
    result = pretrain(tiny_pretrain({"model": {"name": "resnet10t", "kwargs": {}}, "train": {"epochs": 1}}),
                      tmp_path / "r")
    assert load_weights(tmp_path / "r" / "last").config["architecture"] == "resnet10t"
    assert result.history[0]["train_loss"] > 0


def test_non_finite_loss_stops_with_a_clear_message():
    model = create_model(ModelConfig(name="vit_tiny_patch16_224", kwargs=TINY_VIT), num_classes=3)
    batches = [(torch.full((4, 3, 32, 32), float("nan")), torch.zeros(4, dtype=torch.long))]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(NonFiniteLoss, match=r"loss is nan at epoch 1, step 1/1 .* lower optim\.lr"):
        train_one_epoch(model, batches, optimizer, step=SupervisedStep(torch.nn.CrossEntropyLoss()),
                        device=torch.device("cpu"), epoch=0)
    assert isinstance(NonFiniteLoss("x"), FdslError)  # the CLI ends it with one line, exit 2


def test_batch_larger_than_the_dataset_is_one_clear_error(tmp_path):
    with pytest.raises(FdslError, match="batch size 64 is larger than the 24 training images"):
        pretrain(tiny_pretrain({"train": {"batch_size": 64}}), tmp_path / "big")


@pytest.mark.parametrize("name", list(PRETRAIN_PRESETS))
def test_presets_resolve_and_validate(name):
    config = pretrain_preset(name)
    assert isinstance(config, PretrainConfig)
    config.validate()


def test_paper_recipes_keep_their_numbers():
    r50, deit = pretrain_preset("fractaldb-resnet50"), pretrain_preset("fractaldb-deit-tiny")
    assert (r50.optim.opt, r50.optim.lr, r50.optim.decay_milestones, r50.train.epochs) == ("sgd", 0.1, (30, 60), 90)
    assert round(r50.augment.scale[0] * 362 * 362) == 224 * 224
    assert (deit.optim.lr, deit.optim.lr_base_batch, deit.augment.mixup, deit.augment.re_prob) == (5e-4, 512, 0.8, 0.25)


def test_config_overrides_are_typed_and_checked():
    config = resolve(pretrain_preset("cpu-small"), parse_assignment("optim.lr=2e-3"),
                     parse_assignment("augment.scale=[0.5, 1]"))
    assert config.optim.lr == 0.002 and config.augment.scale == (0.5, 1.0)
    with pytest.raises(FdslError, match="unknown config key 'optim.learning_rate'; valid: optim.opt"):
        resolve(pretrain_preset("cpu-small"), parse_assignment("optim.learning_rate=1"))
    with pytest.raises(FdslError, match="config 'train.epochs' = 'many'; expected int"):
        resolve(pretrain_preset("cpu-small"), parse_assignment("train.epochs=many"))
    with pytest.raises(FdslError, match="unknown optimiser 'adamz'"):
        resolve(pretrain_preset("cpu-small"), parse_assignment("optim.opt=adamz"))


def test_randaugment_posterize_to_zero_bits_does_not_stop_training():
    # DeiT's rand-m9-mstd0.5-inc1 asks timm's increasing posterize for 0 bits at the top magnitude,
    # which Pillow >= 13 rejects; we keep Pillow < 13's answer (a black image).
    train, _ = build_transforms(AugmentConfig(img_size=32, auto_augment="rand-m9-mstd0.5-inc1"))
    randaugment = next(t for t in train.transforms if type(t).__name__ == "RandAugment")
    posterize = next(op for op in randaugment.ops if op.name == "PosterizeIncreasing")
    image = Image.new("RGB", (8, 8), (200, 100, 50))
    assert posterize.aug_fn(image, 0).getextrema() == ((0, 0), (0, 0), (0, 0))
    assert np.array_equal(np.asarray(posterize.aug_fn(image, 3)), np.asarray(ImageOps.posterize(image, 3)))
