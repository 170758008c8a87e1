"""Self-supervised pre-training (``--objective simclr`` / ``moco``): the head, the key encoder's
momentum, the held-out k-NN score, N images per class per epoch of an image folder, runs that fine-tune
and resume, and one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import torch
from train_helpers import TINY_PRETRAIN, interrupt_epoch, make_image_folder, one_line_error, tiny_finetune, \
    tiny_pretrain, torchrun, write_yaml

from fdsl.cli import main
from fdsl.configs import resolve
from fdsl.data.config import FormulaDataConfig
from fdsl.data.datasets import EachEpochPerClass, formula_datasets
from fdsl.tasks.classification.config import ObjectiveConfig
from fdsl.tasks.classification.selfsup import (ContrastiveHead, contrastive_head, contrastive_model, knn_vote,
                                               update_key_encoder)
from fdsl.tasks.classification.models import create_model
from fdsl.tasks.classification.config import ModelConfig
from fdsl.train.run import finetune, pretrain

TINY_MODEL = ModelConfig(name="vit_tiny_patch16_224", kwargs=TINY_PRETRAIN["model"]["kwargs"])


def tiny_contrastive(name: str, **options):
    torch.manual_seed(0)
    return contrastive_model(create_model(TINY_MODEL, num_classes=3), ObjectiveConfig(name=name, queue=16, **options))


@pytest.mark.parametrize("name", ["simclr", "moco"])
def test_the_classifier_becomes_the_projection_head(name):
    model = tiny_contrastive(name)
    head = contrastive_head(model)
    assert isinstance(head, ContrastiveHead) and model.head is head and model.num_classes == 0
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 128)
    assert hasattr(head, "key_encoder") == (name == "moco")
    assert contrastive_head(create_model(TINY_MODEL, num_classes=3)) is None


def test_moco_key_encoder_moves_by_its_momentum_towards_the_query_encoder():
    model = tiny_contrastive("moco", momentum=0.9)
    head = model.head
    before = [p.clone() for p in head.key_encoder.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, head.key_encoder.parameters()))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "key_encoder" not in name:
                p.add_(1.0)  # the query encoder moves; the key encoder follows a tenth of the way
    update_key_encoder(model, head)
    online = [p for name, p in model.named_parameters() if "key_encoder" not in name]
    for old, new, query in zip(before, head.key_encoder.parameters(), online):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * query)
    assert not any(p.requires_grad for p in head.key_encoder.parameters())


def test_knn_vote_finds_clusters_and_leaves_each_image_out():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:, :4]
    features = torch.tensor(np.repeat(centres, 6, axis=0) + 0.05 * rng.normal(size=(24, 4)), dtype=torch.float32)
    labels = torch.arange(4).repeat_interleave(6)
    scores = knn_vote(torch.nn.functional.normalize(features, dim=1), labels)
    assert scores["top1"] == 100.0 and scores["images"] == 24 and scores["loss"] < 0.1
    # two images of one cluster labelled apart: each is voted the other's label (counting itself, each
    # would vote for its own and score 100%)
    apart = torch.cat([labels[:-5], torch.tensor([4])])
    scores = knn_vote(torch.nn.functional.normalize(features[:-4], dim=1), apart)
    assert scores["top1"] == pytest.approx(100.0 * 18 / 20)


def test_an_image_folder_shows_n_images_per_class_per_epoch_drawn_from_seed_and_epoch(tmp_path):
    folder = make_image_folder(tmp_path / "images", classes=3, per_class=10)
    data = FormulaDataConfig(data_dir=str(folder), val_instances=2, instances_per_epoch=3)
    train, val, classes = formula_datasets(data)
    assert isinstance(train, EachEpochPerClass) and len(train) == 9 and len(val) == 6
    first = list(train.shown)
    assert [train.split.targets[i] for i in first] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    train.set_epoch(1)
    assert train.shown != first and len(set(train.shown)) == 9
    again, _, _ = formula_datasets(data)
    again.set_epoch(1)
    assert again.shown == train.shown  # a pure function of (seed, epoch): any worker or resume draws the same
    held_out = {val.indices[i] for i in range(len(val))}
    assert not held_out & {train.split.indices[i] for i in train.shown}
    everything, _, _ = formula_datasets(FormulaDataConfig(data_dir=str(folder), val_instances=2, instances_per_epoch=50))
    assert len(everything) == 24  # a class smaller than N shows all its images


@pytest.mark.slow  # trains models
@pytest.mark.parametrize("name", ["simclr", "moco"])
def test_a_self_supervised_run_fine_tunes_with_its_backbone_and_a_new_classifier(tmp_path, name):
    images = make_image_folder(tmp_path / "images", classes=3, per_class=8)
    run = pretrain(tiny_pretrain({"objective": {"name": name, "queue": 16}}), tmp_path / "pre")
    assert 0.0 <= run.last["val_top1"] <= 100.0 and np.isfinite(run.last["train_loss"])
    saved = safetensors.torch.load_file(tmp_path / "pre" / "last" / "model.safetensors")
    tuned = finetune(tiny_finetune(images, {"init": str(tmp_path / "pre" / "last"), "new_head": True,
                                           "train": {"epochs": 1}}), tmp_path / "ft")
    assert np.isfinite(tuned.last["val_top1"])
    # the fine-tuning started from the backbone: one epoch later the weights are near it, not a fresh init
    fine = safetensors.torch.load_file(tmp_path / "ft" / "last" / "model.safetensors")
    assert not any(k.startswith("head.") and k not in ("head.weight", "head.bias") for k in fine)
    drift = (fine["patch_embed.proj.weight"] - saved["patch_embed.proj.weight"]).abs().max()
    assert 0 < drift < 0.05
    torch.manual_seed(123)
    fresh = create_model(TINY_MODEL, num_classes=3).state_dict()["patch_embed.proj.weight"]
    assert (fresh - saved["patch_embed.proj.weight"]).abs().max() > 0.05


@pytest.mark.slow  # trains a model
def test_an_interrupted_moco_run_resumes_to_the_same_weights_and_queue(tmp_path, monkeypatch):
    layer = {"objective": {"name": "moco", "queue": 16}, "train": {"epochs": 3}}
    pretrain(tiny_pretrain(layer), tmp_path / "whole")
    interrupt_epoch(monkeypatch, 3, lambda: pretrain(tiny_pretrain(layer), tmp_path / "cut"))
    pretrain(tiny_pretrain(layer), tmp_path / "cut", resume=True)
    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and any("bank" in key for key in a)  # the queue is saved with the run
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # trains a model
def test_cli_pretrains_simclr_on_an_image_folder_analyze_reads_it_and_evaluate_asks_for_a_fine_tuning(tmp_path, capsys):
    images = make_image_folder(tmp_path / "images", classes=3, per_class=8)
    config = write_yaml(tmp_path / "pre.yaml", {**TINY_PRETRAIN, "train": {**TINY_PRETRAIN["train"], "epochs": 1}})
    code = main(["pretrain", "--config", str(config), "--objective", "simclr", "--data-dir", str(images),
                 "--val-instances", "2", "-o", str(tmp_path / "pre")])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    code = main(["evaluate", str(tmp_path / "pre" / "last"), "--dataset", str(images)])
    one_line_error(code, capsys.readouterr().err, "has no classifier", "fdsl finetune --init")
    # the analysis reads the backbone (filters, attention, position embeddings) without the projection head
    code = main(["analyze", str(tmp_path / "pre" / "last"), "--images", str(images), "-o", str(tmp_path / "an")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "an" / "position_embedding.png").is_file()


@pytest.mark.slow  # trains under torchrun (subprocesses)
@pytest.mark.parametrize("name", ["simclr", "moco"])
def test_torchrun_pretrains_self_supervised_on_two_processes(tmp_path, name):
    """SimCLR gathers the negatives of every rank (lightly's gather_distributed), MoCo keeps one queue;
    the held-out k-NN score gathers every rank's features."""
    config = write_yaml(tmp_path / "tiny.yaml", {**TINY_PRETRAIN, "objective": {"name": name, "queue": 16}})
    done = torchrun("pretrain", "--config", config, "--batch-size", "4", "-o", tmp_path / "run", cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert log.count("batch 4 x 2 process(es)") == 1 and log.count("epoch 2/2 train loss") == 1, log
    metrics = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 3 and "val_top1" in metrics[0]
    saved = safetensors.torch.load_file(tmp_path / "run" / "last" / "model.safetensors")
    assert any(key.startswith("head.projector.") for key in saved)


def test_an_unknown_objective_is_one_line(tmp_path, capsys):
    code = main(["pretrain", "--objective", "byol", "-o", str(tmp_path / "x")])
    one_line_error(code, capsys.readouterr().err, "objective.name = 'byol'", "simclr", "moco")
    assert not (tmp_path / "x").exists()


def test_objective_values_are_checked():
    with pytest.raises(Exception, match="objective.momentum = 1.0"):
        resolve(tiny_pretrain(), {"objective": {"name": "moco", "momentum": 1.0}}).validate()
