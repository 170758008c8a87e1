"""Segmentation: the image/label folder loader and its errors, paired transforms that keep masks
aligned, the confusion-matrix scores, weights and their use as an init."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import (PALETTE, TINY_RUNS, TINY_SEG_MODEL, blocky_labels, make_seg_folder, raises_one_line,
                           save_run_weights, tiny, write_split)

from fdsl.data.segfolders import SegFolderConfig, seg_folder_datasets
from fdsl.errors import FdslError
from fdsl.tasks.segmentation.config import SegAugmentConfig, SegModelConfig
from fdsl.tasks.segmentation.objective import confusion, evaluate, scores, segmentation_loss
from fdsl.tasks.segmentation.transforms import eval_transform, train_transform

TINY_MODEL = SegModelConfig(**TINY_SEG_MODEL)


def config(root: Path, **options) -> SegFolderConfig:
    return SegFolderConfig(dataset=str(root), **{"num_classes": 3, "void": 3, **options})


# --- the folder loader ------------------------------------------------------------------------------
def test_folder_pairs_map_void_to_ignore_and_keep_classes(tmp_path):
    root = make_seg_folder(tmp_path / "data", void=3)
    train, val, names = seg_folder_datasets(config(root))
    assert (len(train), len(val), names) == (4, 2, ["0", "1", "2"])
    mask = np.array(train[0]["mask"])
    raw = np.array(Image.open(root / "trainannot" / "000.png"))
    assert (mask[:4, :4] == 255).all()  # the void id 3 became the ignore index
    assert np.array_equal(mask[4:, 4:], raw[4:, 4:])
    assert train[0]["image"].mode == "RGB" and train[0]["image"].size == (64, 48)


def test_train_limit_takes_the_first_images_by_name(tmp_path):
    root = make_seg_folder(tmp_path / "data", train=5)
    train, _, _ = seg_folder_datasets(config(root, train_limit=2))
    assert [image.name for image, _ in train.pairs] == ["000.png", "001.png"]


def test_label_of_another_size_names_the_file(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    bad = root / "trainannot" / "002.png"
    Image.fromarray(np.zeros((40, 64), np.uint8)).save(bad)
    message = raises_one_line(lambda: seg_folder_datasets(config(root)))
    assert str(bad) in message and "64x40" in message and "64x48" in message


def test_class_id_out_of_range_names_the_file(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    bad = root / "valannot" / "001.png"
    label = np.array(Image.open(bad))
    label[5, 5] = 7
    Image.fromarray(label).save(bad)
    message = raises_one_line(lambda: seg_folder_datasets(config(root)))
    assert str(bad) in message and "class id 7" in message


def test_image_without_label_names_the_image(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    (root / "trainannot" / "003.png").unlink()
    message = raises_one_line(lambda: seg_folder_datasets(config(root)))
    assert str(root / "train" / "003.png") in message and "no label file" in message


def test_empty_or_missing_folders_are_named(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    for file in (root / "val").iterdir():
        file.unlink()
    assert str(root / "val") in raises_one_line(lambda: seg_folder_datasets(config(root)))
    (root / "val").rmdir()
    assert "no val/ folder" in raises_one_line(lambda: seg_folder_datasets(config(root)))


def test_ade20k_reduce_zero_label(tmp_path):
    root = tmp_path / "data"
    label = np.array([[0, 1, 2, 150]], np.uint8).repeat(4, axis=0)
    write_split(root, "train", [label])
    write_split(root, "val", [label])
    train, _, _ = seg_folder_datasets(SegFolderConfig(dataset=str(root), num_classes=150, void=None,
                                                      reduce_zero_label=True))
    assert np.array(train[0]["mask"])[0].tolist() == [255, 0, 1, 149]


# --- paired transforms -------------------------------------------------------------------------------
def classes_from_colours(image: torch.Tensor, augment: SegAugmentConfig) -> torch.Tensor:
    """Undo the normalisation and read each pixel's class from its palette colour (nearest colour)."""
    mean, std = torch.tensor(augment.mean)[:, None, None], torch.tensor(augment.std)[:, None, None]
    rgb = ((image * std + mean) * 255).permute(1, 2, 0).reshape(-1, 1, 3)
    distances = (rgb - torch.tensor(PALETTE[:3], dtype=torch.float32)).norm(dim=-1)
    return distances.argmin(dim=1).reshape(image.shape[1:])


@pytest.mark.parametrize("seed", range(4))
def test_training_transform_keeps_the_mask_on_its_pixels(seed):
    rng = np.random.default_rng(seed)
    label = blocky_labels(rng, 96, 128, 3)
    label[:8, :8] = 255  # ignored pixels stay 255 (nearest resampling invents no value)
    item = {"image": Image.fromarray(PALETTE[np.minimum(label, 2)]), "mask": Image.fromarray(label)}
    augment = SegAugmentConfig(size=(64, 96), scale=(0.2, 1.0), hflip=0.5, color_jitter=0.0)
    torch.manual_seed(seed)
    image, mask = train_transform(augment)(item)
    assert image.dtype == torch.float32 and image.shape == (3, 64, 96)
    assert mask.dtype == torch.int64 and mask.shape == (64, 96)
    assert set(mask.unique().tolist()) <= {0, 1, 2, 255}
    labelled = mask != 255
    agree = (classes_from_colours(image, augment) == mask)[labelled].float().mean().item()
    assert agree > 0.95  # only the bilinear borders between blocks may disagree


def test_transforms_flip_image_and_mask_together():
    label = np.zeros((64, 64), np.uint8)
    label[:, :16] = 1  # class 1 on the left edge only
    item = {"image": Image.fromarray(PALETTE[label]), "mask": Image.fromarray(label)}
    augment = SegAugmentConfig(size=(64, 64), scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=1.0, color_jitter=0.0)
    image, mask = train_transform(augment)(item)
    assert (mask[:, -16:] == 1).all() and (mask[:, :-16] == 0).all()  # flipped to the right edge
    assert (classes_from_colours(image, augment) == mask).all()


def test_evaluation_transform_resizes_masks_with_nearest_values():
    rng = np.random.default_rng(1)
    label = rng.integers(0, 3, size=(45, 61)).astype(np.uint8)  # no blocks: every pixel a border
    item = {"image": Image.fromarray(PALETTE[label]), "mask": Image.fromarray(label)}
    image, mask = eval_transform(SegAugmentConfig(size=(32, 64)))(item)
    assert image.shape == (3, 32, 64) and mask.shape == (32, 64)
    assert set(mask.unique().tolist()) <= {0, 1, 2}


# --- scores -----------------------------------------------------------------------------------------
def test_scores_of_a_hand_made_confusion():
    # rows: truth, columns: prediction; class 2 occurs nowhere and has no IoU
    matrix = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    result = scores(matrix)
    assert result["miou"] == pytest.approx(100 * (3 / 4 + 2 / 3) / 2)
    assert result["pixel_acc"] == pytest.approx(100 * 5 / 6)


def test_confusion_and_loss_leave_ignored_pixels_out():
    truth = torch.tensor([[[0, 1, 255, 255]]])
    guess = torch.tensor([[[0, 0, 1, 1]]])
    assert confusion(guess, truth, 2).tolist() == [[1, 0], [1, 0]]
    logits = torch.randn(1, 2, 1, 4)
    changed = logits.clone()
    changed[..., 2:] = 100.0  # any value on ignored pixels
    assert segmentation_loss(logits, truth) == pytest.approx(segmentation_loss(changed, truth).item())
    all_ignored = torch.full((1, 1, 4), 255)
    assert segmentation_loss(logits, all_ignored).item() == 0.0


class FixedPrediction(torch.nn.Module):
    """Predicts class 0 on the left half of the image and class 1 on the right half."""

    def forward(self, images):
        batch, _, height, width = images.shape
        logits = torch.zeros(batch, 2, height, width)
        logits[:, 0, :, : width // 2] = 5.0
        logits[:, 1, :, width // 2:] = 5.0
        return logits


def test_evaluate_scores_every_labelled_pixel():
    masks = torch.zeros(2, 4, 4, dtype=torch.long)
    masks[0, :, 2:] = 1  # image 0: exactly the prediction
    masks[1, :2] = 255   # image 1: top half ignored, bottom all class 0
    loader = [(torch.zeros(2, 3, 4, 4), masks)]
    result = evaluate(FixedPrediction(), loader, device=torch.device("cpu"), label_names=["a", "b"])
    # 24 labelled pixels, 20 right; IoU class 0 = 12 / 16, class 1 = 8 / 12
    assert result["pixel_acc"] == pytest.approx(100 * 20 / 24)
    assert result["miou"] == pytest.approx(100 * (12 / 16 + 8 / 12) / 2)
    assert result["pixels"] == 24


# --- weights and inits ------------------------------------------------------------------------------
@pytest.mark.slow  # trains a model
def test_fractaldb_classification_encoder_loads_into_the_segmentation_encoder(tmp_path):
    """A real ``fdsl pretrain`` run (FractalDB, a narrow timm ResNet-18, one epoch) as the init."""
    from train_helpers import tiny_pretrain

    from fdsl.train.checkpoint import load_weights
    from fdsl.train.run import pretrain
    from fdsl.tasks.segmentation.models import create_seg_model, encoder_state, load_init, model_config_of

    pretrain(tiny_pretrain({"model": {"name": "resnet18", "kwargs": TINY_MODEL.encoder_kwargs},
                            "train": {"epochs": 1}}), tmp_path / "fractaldb")
    weights = load_weights(tmp_path / "fractaldb")  # the run folder: its last/ weights
    model_config = model_config_of(weights, SegModelConfig(name="fpn", decoder_kwargs=TINY_MODEL.decoder_kwargs))
    assert model_config.encoder == "resnet18" and model_config.encoder_kwargs == TINY_MODEL.encoder_kwargs
    model = create_seg_model(model_config, num_classes=3)
    load_init(model, weights)
    loaded = encoder_state(model)
    expected = {k: v for k, v in weights.state_dict.items() if not k.startswith("fc.")}
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_weights_that_fit_no_encoder_weight_fail_in_one_line(tmp_path):
    from fdsl.train.checkpoint import Weights
    from fdsl.tasks.segmentation.models import create_seg_model, load_init

    model = create_seg_model(TINY_MODEL, num_classes=3)
    foreign = Weights({"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}, None, Path("vit.safetensors"))
    message = raises_one_line(lambda: load_init(model, foreign))
    assert "no weight of 'vit.safetensors' fits the encoder" in message


def test_segmentation_weights_load_whole_but_a_new_class_layer(tmp_path):
    from fdsl.train.checkpoint import load_weights
    from fdsl.tasks.segmentation.config import SegFinetuneConfig
    from fdsl.tasks.segmentation.models import HEAD_PREFIX, create_seg_model, load_init, model_config_of

    pretrained = create_seg_model(TINY_MODEL, num_classes=255)
    config = SegFinetuneConfig(model=TINY_MODEL, augment=SegAugmentConfig(size=(64, 96)))
    save_run_weights("segmentation", "pretrain", pretrained, tmp_path / "seg", config=config,
                     label_names=[str(i) for i in range(255)], metrics={"val_miou": 5.0, "val_pixel_acc": 50.0},
                     data={"family": "segrcdb", "categories": 1, "instances": 8, "seed": 0})
    assert sorted(p.name for p in (tmp_path / "seg").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    saved = json.loads((tmp_path / "seg" / "config.json").read_text())
    assert (saved["architecture"], saved["encoder"], saved["num_classes"], saved["input_size"]) == ("fpn", "resnet18",
                                                                                                     255, [3, 64, 96])
    weights = load_weights(tmp_path / "seg")
    model = create_seg_model(model_config_of(weights, SegModelConfig()), num_classes=11)
    load_init(model, weights)
    for key, value in model.state_dict().items():
        if not key.startswith(HEAD_PREFIX):
            assert torch.equal(value, pretrained.state_dict()[key]), key


# --- pre-training then fine-tuning ------------------------------------------------------------------
def tiny_seg_pretrain(*layers):
    return tiny("segmentation", "pretrain", *layers)


def tiny_seg_finetune(dataset: Path, *layers):
    return tiny("segmentation", "finetune", *layers, dataset=dataset)


@pytest.mark.slow  # trains a model
def test_pretrain_on_segrcdb_then_finetune_scores_miou_and_resumes_exactly(tmp_path, monkeypatch, run_cli):
    import safetensors.torch

    from train_helpers import interrupt_epoch
    from fdsl.train.run import finetune, pretrain

    pre = pretrain(tiny_seg_pretrain(), tmp_path / "segrcdb")
    assert [row["epoch"] for row in pre.history] == [1, 2] and pre.best["val_miou"] is not None
    saved = json.loads((tmp_path / "segrcdb" / "last" / "config.json").read_text())
    assert saved["num_classes"] == 8 and saved["fdsl"]["config"]["data"]["family"] == "segrcdb"  # 0..7

    data = make_seg_folder(tmp_path / "data", train=8, val=2, size=(48, 64), void=3)
    init = {"init": str(tmp_path / "segrcdb")}
    whole = finetune(tiny_seg_finetune(data, init), tmp_path / "whole")
    header = (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "train_loss", "val_loss", "val_miou", "val_pixel_acc"]
    assert all(0 <= row["val_miou"] <= 100 and 0 <= row["val_pixel_acc"] <= 100 for row in whole.history)
    # the saved best/ weights, loaded back alone, score what the run recorded; and draw their predictions
    from fdsl.tasks import get_task
    from fdsl.train.run import evaluate_weights
    from fdsl.viz.segmentation import save_prediction_grid

    data_config = tiny_seg_finetune(data).data
    again = evaluate_weights(get_task("segmentation"), tmp_path / "whole" / "best", data_config, workers=0)
    assert again["miou"] == pytest.approx(whole.best["val_miou"]) and again["loss"] == pytest.approx(whole.best["val_loss"])
    save_prediction_grid({"scratch": tmp_path / "whole" / "best", "again": tmp_path / "whole" / "last"}, data_config,
                         [0, 1], tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size == (4 * (64 + 2), 16 + 2 * (64 + 2))
    # the analysis reads timm classifiers: a segmentation model is named as such, in one line
    from fdsl.analysis.loading import load_model
    from fdsl.errors import FdslError

    with pytest.raises(FdslError, match=r"holds a 'fpn' model \(segmentation\), not a timm image classifier"):
        load_model(str(tmp_path / "whole" / "best"))
    check_cli_evaluate(run_cli, tmp_path / "whole" / "best", data, whole.best)

    # the second epoch is cut short, after one checkpoint
    interrupt_epoch(monkeypatch, 2, lambda: finetune(tiny_seg_finetune(data, init), tmp_path / "cut"))
    resumed = finetune(tiny_seg_finetune(data, init), tmp_path / "cut", resume=True)
    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert [row["val_miou"] for row in resumed.history] == pytest.approx([row["val_miou"] for row in whole.history])


def check_cli_evaluate(run_cli, weights: Path, data: Path, best: dict) -> None:
    """`fdsl evaluate --task segmentation` prints the mIoU the run recorded; the wrong task is one line."""
    args = [weights, "--dataset", data, "--num-classes", "3", "--void", "3", "--workers", "0"]
    code, out, err = run_cli("evaluate", "--task", "segmentation", *args)
    assert code == 0, err
    assert f"mIoU {best['val_miou']:.2f}% pixel accuracy {best['val_pixel_acc']:.2f}%" in out, out
    assert " pixels of " in out
    code, _, err = run_cli("evaluate", weights, "--dataset", data)  # the default task is classification
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "holds segmentation weights; pass --task segmentation" in err, err


def test_finetune_on_bad_data_writes_nothing(tmp_path):
    from fdsl.train.run import finetune

    data = make_seg_folder(tmp_path / "data")
    (data / "valannot" / "000.png").unlink()
    with pytest.raises(FdslError, match="has no label file"):
        finetune(tiny_seg_finetune(data), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cli_finetune_on_bad_labels_exits_2_with_one_line(tmp_path, capsys):
    import yaml

    from fdsl.cli import main

    data = make_seg_folder(tmp_path / "data")
    bad = data / "trainannot" / "001.png"
    Image.fromarray(np.full((48, 64), 9, np.uint8)).save(bad)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"data": {"num_classes": 3, "void": 3, "class_names": []}}))
    code = main(["finetune", "--task", "segmentation", "--config", str(config), "--dataset", str(data),
                 "-o", str(tmp_path / "run")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(bad) in lines[0] and "class id 9" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # about 23 s on the shared 2-core machine: two processes importing torch, timm and smp
def test_torchrun_two_processes_pretrain_on_segrcdb_on_the_fly(tmp_path):
    """2 CPU processes (gloo), DistributedDataParallel, each rank rendering its share of the scenes."""
    import csv
    import os
    import subprocess
    import sys

    import yaml

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUNS["segmentation"]["pretrain"]))
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fdsl", "pretrain", "--family", "segrcdb", "--config", str(config), "-o", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert log.count("batch 4 x 2 process(es)") == 1 and log.count("epoch 2/2 train loss") == 1, log
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"] and all(row["val_miou"] for row in rows)
    # every scene of an epoch was seen once: 2 ranks x 2 steps x 4 scenes
    assert all(float(row["images_per_s"]) * float(row["epoch_s"]) == pytest.approx(16) for row in rows)
    recorded = json.loads((out / "last" / "config.json").read_text())["fdsl"]
    assert (recorded["task"], recorded["phase"]) == ("segmentation", "pretrain")


@pytest.mark.slow  # trains a model
def test_pretrain_from_a_rendered_folder_reads_the_same_scenes(tmp_path):
    from fdsl.cli import main
    from fdsl.data.datasets import formula_datasets
    from fdsl.train.run import pretrain

    formula = TINY_RUNS["segmentation"]["pretrain"]["data"]["formula"]
    options = [f"--{key.replace('_', '-')}={value}" for key, value in formula.items()]
    assert main(["render", "segrcdb", "--categories", "1", "--instances", "12", *options, "-o",
                 str(tmp_path / "scenes")]) == 0
    config = tiny_seg_pretrain({"data": {"data_dir": str(tmp_path / "scenes"), "instances": 10, "val_instances": 2}})
    train, val, _ = formula_datasets(config.data)  # through the image+mask kind, as on the fly
    assert (len(train), len(val)) == (10, 2)
    fly, _, _ = formula_datasets(tiny_seg_pretrain().data)
    for index in (0, 7):
        disk_item, fly_item = train[index][0], fly[index][0]
        assert np.array_equal(np.array(disk_item["mask"]), np.array(fly_item["mask"]))
        assert np.array_equal(np.array(disk_item["image"]), np.array(fly_item["image"]))
    result = pretrain(config, tmp_path / "run")
    assert result.last["val_miou"] is not None

    (tmp_path / "scenes" / "00000" / "00000_00003.mask.png").unlink()
    message = raises_one_line(lambda: formula_datasets(config.data))
    assert "00000_00003.mask.png" in message and "is missing" in message


def test_a_void_id_that_is_a_class_is_refused():
    # CamVid's void 11 left in place for Cityscapes' 19 classes would silently drop class 11
    message = raises_one_line(lambda: SegFolderConfig(num_classes=19).validate())
    assert "data.void = 11 is a class id" in message
    SegFolderConfig(num_classes=19, void=None).validate()
