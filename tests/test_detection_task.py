"""The detection task: torchvision's Faster and Mask R-CNN over a timm backbone's FPN, initialised from
scratch, from an fdsl classification backbone and from a detection pre-training on fractaldb-scenes;
fine-tuned on YOLO folders and COCO JSON; `fdsl evaluate` gives what the run recorded; resume after
Ctrl-C gives the same weights; 2-rank torchrun; bad input in one line with no run folder."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from test_train_cli import fdsl  # noqa: F401  (fixture)
from train_helpers import one_line_error, torchrun
from train_helpers import interrupt_epoch, save_run_weights, tiny_pretrain

from fdsl.configs import resolve
from fdsl.errors import FdslError
from fdsl.tasks import get_task
from fdsl.tasks.detection.config import DetModelConfig
from fdsl.tasks.detection.presets import cpu_small_finetune, cpu_small_pretrain

TINY_BACKBONE = {"channels": [8, 8, 16, 16], "stem_width": 8}
TINY_MODEL = {"backbone": "resnet18", "backbone_kwargs": TINY_BACKBONE, "fpn_channels": 16, "representation_size": 32,
              "mask_channels": 16, "anchor_sizes": [8, 16, 32, 64, 128]}
TINY_LOOP = {"epochs": 2, "batch_size": 4, "workers": 0, "threads": 1, "log_interval": 1000, "eval_interval": 1}
TINY_PRETRAIN = {
    "model": TINY_MODEL,
    "data": {"formula": {"size": 64, "classes": 3, "max_objects": 4, "search_size": 64, "search_points": 3000},
             "instances": 12, "val_instances": 4},
    "train": TINY_LOOP,
}
NAMES = ["square", "bar"]
#: The shapes' colours, one per class: learnable at a glance.
COLOURS = [(220, 40, 40), (40, 200, 60)]


# --- tiny data ----------------------------------------------------------------------------------------
def shapes(rng: np.random.Generator, width: int, height: int) -> list[tuple[int, int, int, int, int]]:
    """One or two rectangles (class, x0, y0, x1, y1) that do not overlap: a square left, a bar right."""
    found = [(0, *rng.integers(2, 8, 2), 0, 0)]
    found[0] = (0, found[0][1], found[0][2], found[0][1] + 20, found[0][2] + 20)
    if rng.random() < 0.7:
        x0, y0 = int(rng.integers(36, 44)), int(rng.integers(2, 10))
        found.append((1, x0, y0, x0 + 16, y0 + 34))
    return found


def write_shapes(root: Path, count: int = 10, width: int = 64, height: int = 48) -> Path:
    """COCO128's YOLO layout (images/train2017/, object_detection/ with class ids 0-1, instance_segmentation/
    with ids 1-2 as polygons) of ``count`` images of coloured rectangles on grey."""
    rng = np.random.default_rng(0)
    folders = {kind: root / kind / "labels" / "train2017" for kind in ("object_detection", "instance_segmentation")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (root / "object_detection" / "config.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(NAMES))}))
    (root / "instance_segmentation" / "config.yaml").write_text(
        yaml.safe_dump({"names": {i + 1: n for i, n in enumerate(NAMES)}}))
    (root / "images" / "train2017").mkdir(parents=True)
    for index in range(count):
        pixels = np.full((height, width, 3), 110, np.uint8)
        boxes, polygons = [], []
        for cls, x0, y0, x1, y1 in shapes(rng, width, height):
            pixels[y0:y1, x0:x1] = COLOURS[cls]
            w, h = (x1 - x0) / width, (y1 - y0) / height
            boxes.append(f"{cls} {(x0 + x1) / 2 / width} {(y0 + y1) / 2 / height} {w} {h}")
            corners = [x0 / width, y0 / height, x1 / width, y0 / height, x1 / width, y1 / height, x0 / width, y1 / height]
            polygons.append(f"{cls + 1} " + " ".join(str(v) for v in corners))
        Image.fromarray(pixels).save(root / "images" / "train2017" / f"{index:03d}.png")
        (folders["object_detection"] / f"{index:03d}.txt").write_text("\n".join(boxes) + "\n")
        (folders["instance_segmentation"] / f"{index:03d}.txt").write_text("\n".join(polygons) + "\n")
    return root


def write_coco_json(root: Path, shapes_root: Path) -> Path:
    """The same shapes as a COCO ``instances_train.json`` beside a copy of the images."""
    from fdsl.data.detection import read_yolo

    data = read_yolo(shapes_root, labels="masks")
    (root / "train").mkdir(parents=True)
    images, annotations = [], []
    for image in data.images:
        (root / "train" / image.path.name).write_bytes(image.path.read_bytes())
        images.append({"id": image.image_id + 1, "file_name": image.path.name, "width": image.width,
                       "height": image.height})
        for box, label in zip(image.boxes.tolist(), image.labels.tolist()):
            x0, y0, x1, y1 = box
            annotations.append({"id": len(annotations) + 1, "image_id": image.image_id + 1, "category_id": label,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0,
                                "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]]})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": i + 1, "name": n} for i, n in enumerate(NAMES)]}
    path = root / "annotations" / "instances_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    return write_shapes(tmp_path_factory.mktemp("shapes") / "data")


def tiny_finetune(dataset: Path, *layers: dict):
    tiny = {"model": TINY_MODEL, "train": TINY_LOOP,
            "data": {"dataset": str(dataset), "holdout": 0.3, "image_size": 64, "orphan_labels": "error"}}
    return resolve(cpu_small_finetune(), tiny, *layers)


def tiny_scenes_pretrain(*layers: dict):
    return resolve(cpu_small_pretrain(), TINY_PRETRAIN, *layers)


def last_row(run: Path) -> dict[str, str]:
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))[-1]


# --- configs, models, inits (no training) ---------------------------------------------------------------
def test_presets_resolve_and_the_scenes_family_picks_the_task(fdsl):  # noqa: F811
    task = get_task("detection")
    for phase in ("pretrain", "finetune"):
        for name in task.presets(phase):
            task.preset(phase, name).validate()
    code, out, err = fdsl("pretrain", "--family", "fractaldb-scenes", "--print-config", "-o", "unused")
    assert code == 0, err
    assert "fpn_channels: 64" in out and "family: fractaldb-scenes" in out
    code, out, err = fdsl("finetune", "--task", "detection", "--model", "mask_rcnn", "--print-config", "-o", "unused")
    assert code == 2 and "set data.labels to masks" in err


def test_a_classification_backbone_loads_by_name_and_a_detector_keeps_new_class_layers(tmp_path):
    import timm

    from fdsl.tasks.detection.models import BODY_PREFIX, backbone_state, create_detector, load_init
    from fdsl.tasks.detection.weights import model_config_of
    from fdsl.train.checkpoint import load_weights

    classifier = timm.create_model("resnet18", num_classes=5, **TINY_BACKBONE)
    save_run_weights("classification", "pretrain", classifier, tmp_path / "cls",
                     config=tiny_pretrain({"model": {"name": "resnet18", "kwargs": TINY_BACKBONE}}),
                     label_names=[str(i) for i in range(5)])
    weights = load_weights(tmp_path / "cls")
    model_config = model_config_of(weights, DetModelConfig(**{**TINY_MODEL, "backbone": "resnet50",
                                                               "backbone_kwargs": {}}))
    assert (model_config.backbone, model_config.backbone_kwargs) == ("resnet18", TINY_BACKBONE)
    detector = create_detector(model_config, num_classes=3, min_size=64, max_size=64)
    load_init(detector, weights, ["__background__", "a", "b"])
    expected = {k: v for k, v in classifier.state_dict().items() if not k.startswith("fc.")}
    loaded = backbone_state(detector)
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert all(k.startswith(BODY_PREFIX) or k.startswith(("backbone.fpn", "rpn", "roi_heads"))
               for k in detector.state_dict())

    # a detection run's Faster R-CNN into a Mask R-CNN of other classes: all but the class layers and mask head
    from fdsl.tasks.detection.config import DetFinetuneConfig

    config = DetFinetuneConfig(model=DetModelConfig(**TINY_MODEL))
    save_run_weights("detection", "finetune", detector, tmp_path / "det", config=config,
                     label_names=["__background__", "a", "b"])
    weights = load_weights(tmp_path / "det")
    masked = create_detector(DetModelConfig(**{**TINY_MODEL, "name": "mask_rcnn"}), num_classes=5, min_size=64,
                             max_size=64)
    load_init(masked, weights, ["__background__", "a", "b", "c", "d"])
    source = detector.state_dict()
    for key, value in masked.state_dict().items():
        same = key in source and torch.equal(value, source[key])
        new = key.startswith(("roi_heads.box_predictor.", "roi_heads.mask_"))
        assert same != new, key


def test_weights_that_fit_no_backbone_fail_in_one_line():
    from fdsl.tasks.detection.models import create_detector, load_init
    from fdsl.train.checkpoint import Weights

    detector = create_detector(DetModelConfig(**TINY_MODEL), num_classes=3, min_size=64, max_size=64)
    foreign = Weights({"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}, None, Path("vit.safetensors"))
    with pytest.raises(FdslError, match="no weight of 'vit.safetensors' fits the backbone"):
        load_init(detector, foreign, ["__background__", "a", "b"])


def test_a_variant_of_another_task_pretrains_with_that_task_s_preset():
    from fdsl.experiments.study import parse_study, pretrain_configs

    study = parse_study({"task": "detection", "pretrain": {"set": {"train.epochs": 3}}, "variants": {
        "scenes": {},
        "fractaldb": {"task": "classification", "model.name": "resnet18", "model.kwargs": TINY_BACKBONE}}})
    configs = pretrain_configs(study)
    assert type(configs["scenes"]).__name__ == "DetPretrainConfig" and configs["scenes"].train.epochs == 3
    assert configs["fractaldb"].model.name == "resnet18" and configs["fractaldb"].train.epochs == 32  # its own preset
    assert study.variant_task("fractaldb") == "classification"


# --- bad input: one line naming the file, exit 2, no run folder ---------------------------------------------
def broken(tmp_path: Path, shapes_root: Path, kind: str) -> tuple[Path, list[str], str]:
    """A copy of the shapes with one fault; the flags to read it, and what the error names."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(shapes_root, root)
    boxes = root / "object_detection" / "labels" / "train2017" / "002.txt"
    polygons = root / "instance_segmentation" / "labels" / "train2017" / "002.txt"
    if kind == "box outside":
        boxes.write_text("0 1.5 0.5 0.2 0.2\n")
        return root, [], f"{boxes}' line 1: box"
    if kind == "zero area":
        boxes.write_text("0 0.5 0.5 0.0 0.2\n")
        return root, [], "has zero area"
    if kind == "class out of range":
        boxes.write_text("7 0.5 0.5 0.2 0.2\n")
        return root, [], "class id 7 is out of range"
    if kind == "short polygon":
        polygons.write_text("1 0.1 0.1 0.5 0.5\n")
        return root, ["--labels", "masks"], "polygon of 2 points"
    if kind == "label without image":
        (root / "object_detection" / "labels" / "train2017" / "999.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        return root, ["--orphan-labels", "error"], "999.txt' has no image"
    path = root / "instances_train.json"  # "not coco"
    path.write_text(json.dumps({"images": [], "annotations": {}}))
    return path, [], "is not COCO"


@pytest.mark.parametrize("kind", ["box outside", "zero area", "class out of range", "short polygon",
                                  "label without image", "not coco"])
def test_bad_detection_data_stops_the_cli_in_one_line_before_a_run_folder(fdsl, tmp_path, shapes_root, kind):  # noqa: F811
    dataset, flags, needle = broken(tmp_path, shapes_root, kind)
    model = ["--model", "mask_rcnn"] if "masks" in flags else []
    code, _, err = fdsl("finetune", "--task", "detection", "--dataset", dataset, *flags, *model,
                        "-o", tmp_path / "run")
    one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


# --- training ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_scene_pretraining_then_finetuning_evaluates_as_recorded_and_resumes_exactly(fdsl, tmp_path, monkeypatch,  # noqa: F811
                                                                                     shapes_root):
    import safetensors.torch

    from fdsl.train.run import finetune, pretrain

    pre = pretrain(tiny_scenes_pretrain({"model": {"name": "mask_rcnn"}}), tmp_path / "scenes")
    header = (tmp_path / "scenes" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:8] == ["epoch", "train_loss", "train_loss_classifier", "train_loss_box_reg", "train_loss_objectness",
                          "train_loss_rpn_box_reg", "train_loss_mask", "val_loss"]
    assert header[8:10] == ["val_box_ap", "val_box_ap50"]
    assert all(row["train_loss_mask"] > 0 and 0 <= row["val_mask_ap"] <= 100 for row in pre.history)
    saved = json.loads((tmp_path / "scenes" / "last" / "config.json").read_text())
    assert (saved["fdsl"]["task"], saved["num_classes"], saved["input_size"]) == ("detection", 4, [64, 64])

    # fine-tuning a Faster R-CNN from the Mask R-CNN scenes detector: boxes only, new class layers
    init = {"init": str(tmp_path / "scenes")}
    whole = finetune(tiny_finetune(shapes_root, init), tmp_path / "whole")
    assert all(row["train_loss_mask"] == 0 and math.isnan(row["val_mask_ap"]) for row in whole.history)
    assert all(0 <= row["val_box_ap"] <= 100 for row in whole.history)
    card = (tmp_path / "whole" / "best" / "README.md").read_text()
    assert "pipeline_tag: object-detection" in card and "Faster R-CNN / resnet18" in card and "mask AP" not in card

    # the saved weights, loaded back alone, score what the run recorded, from the CLI too
    code, out, err = fdsl("evaluate", "--task", "detection", tmp_path / "whole" / "best", "--dataset", shapes_root,
                          "--workers", "0")
    assert code == 0, err
    best = whole.best
    assert f"box AP {best['val_box_ap']:.2f}% box AP50 {best['val_box_ap50']:.2f}%" in out, out
    assert f"loss {best['val_loss']:.4f} on 3 images" in out
    code, _, err = fdsl("evaluate", tmp_path / "whole" / "best", "--dataset", shapes_root)
    one_line_error(code, err, "holds detection weights; pass --task detection")

    # the second epoch is cut short, after one checkpoint; the resumed run ends with the same weights
    interrupt_epoch(monkeypatch, 2, lambda: finetune(tiny_finetune(shapes_root, init), tmp_path / "cut"))
    resumed = finetune(tiny_finetune(shapes_root, init), tmp_path / "cut", resume=True)
    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [row["val_box_ap"] for row in resumed.history] == [row["val_box_ap"] for row in whole.history]


@pytest.mark.slow
def test_mask_rcnn_from_a_classification_backbone_on_polygons_and_faster_rcnn_on_coco_json(tmp_path, shapes_root):
    from fdsl.tasks.detection.models import backbone_state
    from fdsl.tasks.detection.weights import load_model
    from fdsl.train.checkpoint import load_weights
    from fdsl.train.run import finetune, pretrain
    from fdsl.viz.detection import save_prediction_grid

    pretrain(tiny_pretrain({"model": {"name": "resnet18", "kwargs": TINY_BACKBONE}, "train": {"epochs": 1}}),
             tmp_path / "fractaldb")
    config = tiny_finetune(shapes_root, {"init": str(tmp_path / "fractaldb"), "model": {"name": "mask_rcnn"},
                                         "data": {"labels": "masks"}, "train": {"epochs": 1}})
    result = finetune(config, tmp_path / "masks")
    row = result.last
    assert 0 <= row["val_mask_ap"] <= 100 and row["train_loss_mask"] > 0
    assert "mask AP" in (tmp_path / "masks" / "last" / "README.md").read_text()
    assert load_model(load_weights(tmp_path / "masks" / "last")).roi_heads.has_mask()

    # scratch on the same shapes as COCO JSON: a run of its own backbone (nothing loaded)
    coco = write_coco_json(tmp_path / "coco", shapes_root)
    scratch = finetune(tiny_finetune(coco, {"train": {"epochs": 1}}), tmp_path / "scratch")
    assert scratch.last["val_box_ap"] >= 0
    pretrained = backbone_state(load_model(load_weights(tmp_path / "masks" / "last")))
    assert not torch.equal(pretrained["conv1.weight"], backbone_state(load_model(load_weights(tmp_path / "scratch" / "last")))["conv1.weight"])

    # predictions drawn beside the truth
    data = tiny_finetune(shapes_root, {"data": {"labels": "masks"}}).data
    assert save_prediction_grid({"masks": tmp_path / "masks" / "last"}, data, tmp_path / "grid.png", threshold=0.0)
    assert Image.open(tmp_path / "grid.png").size[0] == 2 * (256 + 2)


@pytest.mark.slow
def test_torchrun_two_processes_finetune_and_score_every_held_out_image(tmp_path, shapes_root):
    """2 CPU processes (gloo), DistributedDataParallel; the held-out images split over the ranks and
    gathered for COCO's scores, which evaluating the weights alone reproduces."""
    from fdsl.tasks.detection.config import DetectionEvalDataConfig
    from fdsl.train.run import evaluate_weights

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "train": {**TINY_LOOP, "batch_size": 2},
                                      "data": {"holdout": 0.3, "image_size": 64, "orphan_labels": "error"}}))
    out = tmp_path / "run"
    done = torchrun("finetune", "--task", "detection", "--config", config, "--dataset", shapes_root, "-o", out,
                    cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert log.count("batch 2 x 2 process(es)") == 1 and log.count("epoch 2/2 train loss") == 1, log
    row = last_row(out)
    alone = evaluate_weights(get_task("detection"), out / "last", DetectionEvalDataConfig(dataset=str(shapes_root)),
                             workers=0)
    assert alone["images"] == 3 and f"{alone['box_ap']:.6g}" == f"{float(row['val_box_ap']):.6g}"


@pytest.mark.slow
def test_a_study_compares_a_classification_backbone_and_scene_pretraining_and_draws_predictions(fdsl, tmp_path,  # noqa: F811
                                                                                                shapes_root):
    study = {
        "task": "detection", "seeds": [0], "data": str(shapes_root),
        "finetune": {"preset": "cpu-small", "set": {"model": TINY_MODEL, "train": {**TINY_LOOP, "epochs": 1},
                                                    "data.holdout": 0.3, "data.image_size": 64,
                                                    "data.orphan_labels": "error"}},
        "pretrain": {"preset": "cpu-small", "set": {**TINY_PRETRAIN, "train": {**TINY_LOOP, "epochs": 1}}},
        "variants": {"scenes": {}, "fractaldb": {"task": "classification", "model.name": "resnet18",
                                                 "model.kwargs": TINY_BACKBONE, "train.epochs": 1, "train.batch_size": 8,
                                                 "data.formula": {"size": 32, "points": 1000, "search_size": 64,
                                                                  "search_points": 3000},
                                                 "data.categories": 3, "data.instances": 8, "data.val_instances": 2,
                                                 "augment.img_size": 32, "train.workers": 0}},
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))  # the variants in this order
    code, out, err = fdsl("study", path, "-o", tmp_path / "s")
    assert code == 0, err
    study_table = out.split("\n\n")[0]  # the ranking's table follows
    rows = [line.split("|")[1].strip() for line in study_table.splitlines() if line.startswith("| ")]
    assert rows == ["init", "scratch", "scenes", "fractaldb"] and "fine-tuned box AP (%)" in out
    assert "top-1" in out and "box AP" in out  # each pre-training's held-out score, by its own task
    page = (tmp_path / "s" / "report.html").read_text()
    assert "predictions on validation images beside the truth" in page


@pytest.mark.slow
def test_pretraining_from_a_render_reads_the_scenes_it_renders_on_the_fly(fdsl, tmp_path):  # noqa: F811
    from fdsl.data.datasets import formula_datasets
    from fdsl.train.run import pretrain

    options = [f"--{key.replace('_', '-')}={value}" for key, value in TINY_PRETRAIN["data"]["formula"].items()]
    code, _, err = fdsl("render", "fractaldb-scenes", "--categories", "1", "--instances", "12", *options,
                        "-o", tmp_path / "scenes")
    assert code == 0, err
    config = tiny_scenes_pretrain({"data": {"data_dir": str(tmp_path / "scenes"), "instances": 10, "val_instances": 2}})
    rendered, _, _ = formula_datasets(config.data)
    fly, _, _ = formula_datasets(tiny_scenes_pretrain({"data": {"instances": 10, "val_instances": 2}}).data)
    for index in (0, 7):
        a, b = rendered[index][0], fly[index][0]
        assert all(torch.equal(a[key], b[key]) for key in ("image", "boxes", "labels", "masks"))
    result = pretrain(dataclasses_replace_epochs(config, 1), tmp_path / "run")
    assert result.last["val_box_ap"] >= 0


def dataclasses_replace_epochs(config, epochs: int):
    import dataclasses

    return dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))
