"""Segmentation: the image/label folder loader and its errors, paired transforms that keep masks
aligned, the confusion-matrix scores, weights and their use as an init."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fdsl.data.segfolders import SegFolderConfig, seg_folder_datasets
from fdsl.errors import FdslError
from fdsl.train.segmentation.config import SegAugmentConfig, SegModelConfig
from fdsl.train.segmentation.objective import confusion, evaluate, scores, segmentation_loss
from fdsl.train.segmentation.transforms import eval_transform, train_transform

#: A colour per class, far apart, so that the class of a pixel can be read back from its colour.
PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]], np.uint8)
TINY_MODEL = SegModelConfig(name="fpn", encoder="resnet18", encoder_kwargs={"channels": [8, 8, 16, 16], "stem_width": 8},
                            decoder_kwargs={"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32})


def blocky_labels(rng: np.random.Generator, height: int, width: int, classes: int, block: int = 16) -> np.ndarray:
    """Labels constant over block x block squares (so that crops and resizes keep most pixels inside one)."""
    coarse = rng.integers(0, classes, size=(-(-height // block), -(-width // block)))
    return np.kron(coarse, np.ones((block, block), np.int64))[:height, :width].astype(np.uint8)


def write_split(root: Path, split: str, labels: list[np.ndarray], *, names: list[str] | None = None) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        name = names[i] if names else f"{i:03d}"
        colours = PALETTE[np.minimum(label, len(PALETTE) - 1)]
        Image.fromarray(colours).save(root / split / f"{name}.png")
        Image.fromarray(label).save(root / f"{split}annot" / f"{name}.png")


def make_seg_folder(root: Path, *, train: int = 4, val: int = 2, size=(48, 64), classes: int = 3,
                    void: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    labels = [blocky_labels(rng, *size, classes) for _ in range(train + val)]
    if void is not None:
        labels[0][:4, :4] = void
    write_split(root, "train", labels[:train])
    write_split(root, "val", labels[train:])
    return root


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


def one_line_error(call) -> str:
    with pytest.raises(FdslError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_label_of_another_size_names_the_file(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    bad = root / "trainannot" / "002.png"
    Image.fromarray(np.zeros((40, 64), np.uint8)).save(bad)
    message = one_line_error(lambda: seg_folder_datasets(config(root)))
    assert str(bad) in message and "64x40" in message and "64x48" in message


def test_class_id_out_of_range_names_the_file(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    bad = root / "valannot" / "001.png"
    label = np.array(Image.open(bad))
    label[5, 5] = 7
    Image.fromarray(label).save(bad)
    message = one_line_error(lambda: seg_folder_datasets(config(root)))
    assert str(bad) in message and "class id 7" in message


def test_image_without_label_names_the_image(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    (root / "trainannot" / "003.png").unlink()
    message = one_line_error(lambda: seg_folder_datasets(config(root)))
    assert str(root / "train" / "003.png") in message and "no label file" in message


def test_empty_or_missing_folders_are_named(tmp_path):
    root = make_seg_folder(tmp_path / "data")
    for file in (root / "val").iterdir():
        file.unlink()
    assert str(root / "val") in one_line_error(lambda: seg_folder_datasets(config(root)))
    (root / "val").rmdir()
    assert "no val/ folder" in one_line_error(lambda: seg_folder_datasets(config(root)))


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
def test_fractaldb_classification_encoder_loads_into_the_segmentation_encoder(tmp_path):
    """A real ``fdsl pretrain`` run (FractalDB, a narrow timm ResNet-18, one epoch) as the init."""
    from train_helpers import tiny_pretrain

    from fdsl.train.checkpoint import load_weights
    from fdsl.train.pretrain import pretrain
    from fdsl.train.segmentation.models import create_seg_model, encoder_state, load_init, model_config_of

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
    from fdsl.train.segmentation.models import create_seg_model, load_init

    model = create_seg_model(TINY_MODEL, num_classes=3)
    foreign = Weights({"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}, None, Path("vit.safetensors"))
    message = one_line_error(lambda: load_init(model, foreign))
    assert "no weight of 'vit.safetensors' fits the encoder" in message


def test_segmentation_weights_load_whole_but_a_new_class_layer(tmp_path):
    from fdsl.train.checkpoint import load_weights
    from fdsl.train.segmentation.config import SegFinetuneConfig
    from fdsl.train.segmentation.models import HEAD_PREFIX, create_seg_model, load_init, model_config_of
    from fdsl.train.segmentation.objective import save_weights

    pretrained = create_seg_model(TINY_MODEL, num_classes=255)
    config = SegFinetuneConfig(model=TINY_MODEL, augment=SegAugmentConfig(size=(64, 96)))
    meta = {"task": "pretrain", "epoch": 2, "metrics": {"epoch": 2, "train_loss": 1.0, "val_miou": 5.0,
                                                        "val_pixel_acc": 50.0, "val_loss": 2.0},
            "config": {"train": {"epochs": 2}, "data": {"family": "segrcdb", "categories": 1, "instances": 8,
                                                        "seed": 0}}}
    save_weights(pretrained, tmp_path / "seg", label_names=[str(i) for i in range(255)], config=config, meta=meta)
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
