"""Point-cloud training (issue 12): the point-folder reader and its errors, resampling, the point
augmentations, the neighbourhood operations of PointNet++, OA / mAcc, and tiny pretrain ->
finetune runs (alone, resumed, and under a 2-process torchrun)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
import torch
from train_helpers import TINY_POINT_LOOP, TINY_POINT_MODEL, TINY_RUNS, make_point_folder, tiny

from fdsl.data.pointfolders import (PointSamples, normalise, read_points, resample, scan_point_folder,
                                    split_point_files)
from fdsl.errors import FdslError
from fdsl.tasks import FINETUNE, PRETRAIN, get_task, task_of_family
from fdsl.tasks.points.augment import DropPoints, Jitter, RotateUp, ScaleAxes, Translate, build_point_augment
from fdsl.tasks.points.config import PointAugmentConfig
from fdsl.tasks.points.models import ball_query, create_point_model, farthest_point_sample, gather_points
from fdsl.tasks.points.objective import accuracy_scores, class_counts


def cloud(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


# --- reading files ------------------------------------------------------------------------------
def write_ascii_ply(path, points):
    header = f"ply\nformat ascii 1.0\nelement vertex {len(points)}\nproperty float x\nproperty float y\n" \
             "property float z\nproperty uchar red\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n"
    path.write_text(header + "".join(f"{x!r} {y!r} {z!r} 7\n" for x, y, z in points.tolist()))


def write_binary_ply(path, points):
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f8")]
    vertices = np.zeros(len(points), dtype=fields)
    for axis, name in enumerate("xyz"):
        vertices[name] = points[:, axis]
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(points)}\nproperty float x\n" \
             "property float y\nproperty float z\nproperty double intensity\nend_header\n"
    path.write_bytes(header.encode() + vertices.tobytes())


def write_off(path, points, glued: bool = False):
    counts = f"{len(points)} 1 0"
    head = f"OFF{counts}\n" if glued else f"OFF\n# a comment\n{counts}\n"
    path.write_text(head + "".join(f"{x!r} {y!r} {z!r}\n" for x, y, z in points.tolist()) + "3 0 1 2\n")


def test_npy_ply_and_off_files_read_the_same_points(tmp_path):
    points = cloud(50)
    np.save(tmp_path / "a.npy", points)
    write_ascii_ply(tmp_path / "b.ply", points)
    write_binary_ply(tmp_path / "c.ply", points)
    write_off(tmp_path / "d.off", points)
    write_off(tmp_path / "e.off", points, glued=True)
    for name in ("b.ply", "c.ply", "d.off", "e.off"):
        read = read_points(tmp_path / name)
        assert read.dtype == np.float32 and read.shape == (50, 3), name
        np.testing.assert_array_equal(read, points, err_msg=name)


def test_fdsl_written_ply_reads_back(tmp_path):
    from fdsl.samples.ply import encode_ply, vertex_array

    points = cloud(20)
    (tmp_path / "x.ply").write_bytes(encode_ply(vertex_array(points, label=np.arange(20, dtype=np.int32))))
    np.testing.assert_array_equal(read_points(tmp_path / "x.ply"), points)


@pytest.mark.parametrize("content, reason", [
    (np.zeros((5, 2), np.float32), "holds an array of shape (5, 2)"),
    (np.zeros((0, 3), np.float32), "holds an array of shape (0, 3)"),
    (np.array([[0, 0, np.nan]], np.float32), "NaN or infinite"),
    (np.array([[0, np.inf, 0]], np.float64), "NaN or infinite"),
])
def test_bad_arrays_fail_in_one_line_naming_the_file(tmp_path, content, reason):
    np.save(tmp_path / "bad.npy", content)
    with pytest.raises(FdslError, match="bad.npy") as error:
        read_points(tmp_path / "bad.npy")
    assert reason in str(error.value) and "\n" not in str(error.value)


def test_unreadable_files_fail_in_one_line(tmp_path):
    (tmp_path / "text.npy").write_text("not numpy")
    (tmp_path / "text.off").write_text("hello\n")
    (tmp_path / "big.ply").write_text("ply\nformat binary_big_endian 1.0\nelement vertex 1\nproperty float x\n"
                                      "property float y\nproperty float z\nend_header\n")
    write_ascii_ply(tmp_path / "short.ply", cloud(5))
    (tmp_path / "short.ply").write_text((tmp_path / "short.ply").read_text().replace("vertex 5", "vertex 9"))
    for name, reason in (("text.npy", "cannot be read"), ("text.off", "not an OFF file"),
                         ("big.ply", "binary_big_endian"), ("short.ply", "declares 9 vertices but holds 5")):
        with pytest.raises(FdslError, match=name) as error:
            read_points(tmp_path / name)
        assert reason in str(error.value)


def test_bad_folders_fail_in_one_line(tmp_path):
    with pytest.raises(FdslError, match="has no class sub-folders"):
        scan_point_folder(tmp_path)
    (tmp_path / "chair").mkdir()
    np.save(tmp_path / "chair" / "a.npy", cloud())
    (tmp_path / "table").mkdir()
    (tmp_path / "table" / "notes.txt").write_text("no points")
    with pytest.raises(FdslError, match="class folder .*table.* holds no .npy"):
        scan_point_folder(tmp_path)
    with pytest.raises(FdslError, match="does not exist"):
        scan_point_folder(tmp_path / "missing")


def test_splits_hold_out_the_last_files_and_limit_training(tmp_path):
    root = make_point_folder(tmp_path / "data", per_class=10)
    files = scan_point_folder(root)
    assert files.classes == ["class0", "class1", "class2"]
    train, val = split_point_files(files, holdout=0.2)
    names = [files.paths[i].name for i in val]
    assert names == ["008.npy", "009.npy"] * 3 and len(train) == 24
    small, val_small = split_point_files(files, holdout=0.2, train_share=0.25)
    assert [files.paths[i].name for i in small] == ["000.npy", "001.npy"] * 3 and val_small == val
    assert len(split_point_files(files, holdout=0.2, train_per_class=1)[0]) == 3


def test_a_stem_with_npy_and_ply_is_read_once(tmp_path):
    (tmp_path / "c").mkdir()
    np.save(tmp_path / "c" / "a.npy", cloud())
    write_binary_ply(tmp_path / "c" / "a.ply", cloud())
    assert [p.name for p in scan_point_folder(tmp_path).paths] == ["a.npy"]


# --- sampling ------------------------------------------------------------------------------------
def test_normalise_puts_the_cloud_in_the_unit_sphere():
    points = normalise(torch.from_numpy(cloud() * 7 + 3))
    assert torch.allclose(points.mean(0), torch.zeros(3), atol=1e-5)
    assert points.norm(dim=1).max().item() == pytest.approx(1.0, abs=1e-6)


def test_resample_draws_distinct_points_or_all_of_them():
    points = torch.arange(30, dtype=torch.float32)[:, None].expand(30, 3)
    fewer = resample(points, 10, np.random.default_rng(0))
    assert fewer.shape == (10, 3) and len(set(fewer[:, 0].tolist())) == 10
    more = resample(points, 50, np.random.default_rng(0))
    assert more.shape == (50, 3) and set(more[:, 0].tolist()) == set(range(30))


def test_point_samples_are_seeded_per_epoch_and_index(tmp_path):
    files = scan_point_folder(make_point_folder(tmp_path / "data", points=100))
    from fdsl.data.pointfolders import PointFolder

    base = PointFolder(files, range(len(files.paths)))
    a, b = PointSamples(base, points=32, seed=1), PointSamples(base, points=32, seed=1)
    assert torch.equal(a[3][0], b[3][0]) and a[3][1] == b[3][1] == 0
    b.set_epoch(1)
    assert not torch.equal(a[3][0], b[3][0])
    assert a[3][0].shape == (32, 3) and a[3][0].dtype == torch.float32


# --- augmentations -----------------------------------------------------------------------------
AUGMENTS = [RotateUp(2), ScaleAxes(0.8, 1.25), Translate(0.2), Jitter(0.01, 0.05), DropPoints(0.875)]


@pytest.mark.parametrize("augment", AUGMENTS, ids=lambda a: type(a).__name__)
def test_augmentations_keep_shape_are_finite_seeded_and_change_the_points(augment):
    points = normalise(torch.from_numpy(cloud(256)))
    torch.manual_seed(5)
    first = augment(points)
    torch.manual_seed(5)
    again = augment(points)
    assert first.shape == points.shape and first.dtype == torch.float32 and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, points)


def test_rotation_about_z_keeps_heights_and_radii():
    points = normalise(torch.from_numpy(cloud(100)))
    torch.manual_seed(0)
    turned = RotateUp(2)(points)
    assert torch.allclose(turned[:, 2], points[:, 2])
    assert torch.allclose(turned[:, :2].norm(dim=1), points[:, :2].norm(dim=1), atol=1e-6)


def test_dropout_replaces_points_by_the_first_one():
    points = torch.arange(300, dtype=torch.float32).view(100, 3)
    torch.manual_seed(1)
    dropped = DropPoints(0.875)(points)
    replaced = (dropped != points).any(dim=1)
    assert replaced.any() and (dropped[replaced] == points[0]).all()


def test_build_point_augment_follows_the_config():
    assert build_point_augment(PointAugmentConfig(rotate=False, scale=(1.0, 1.0), translate=0, jitter=0)) is None
    assert repr(build_point_augment(PointAugmentConfig(dropout=0.5))) == \
        "Compose(RotateUp, ScaleAxes, Translate, Jitter, DropPoints)"


# --- neighbourhood operations and the model ----------------------------------------------------------
def test_farthest_point_sampling_picks_distinct_far_points():
    # 4 tight clusters far apart, plus noise: 4 centroids must fall one in each cluster.
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], np.float32)
    points = np.concatenate([c + 0.01 * rng.normal(size=(50, 3)) for c in corners]).astype(np.float32)
    xyz = torch.from_numpy(rng.permutation(points))[None].repeat(2, 1, 1)
    chosen = farthest_point_sample(xyz, 4)
    assert chosen.shape == (2, 4) and len(set(chosen[0].tolist())) == 4
    picked = gather_points(xyz, chosen)[0]
    assert sorted(torch.cdist(picked, torch.from_numpy(corners)).argmin(dim=1).tolist()) == [0, 1, 2, 3]


def test_ball_query_returns_neighbours_within_the_radius():
    xyz = torch.from_numpy(cloud(200))[None]
    centres = xyz[:, :5]
    neighbours = ball_query(xyz, centres, 0.5, 8)
    assert neighbours.shape == (1, 5, 8)
    distances = (gather_points(xyz, neighbours) - centres[:, :, None]).norm(dim=-1)
    assert (distances <= 0.5 + 1e-5).all()
    assert (neighbours[0, :, 0] <= torch.arange(5)).all()  # the first in a ball comes first by index


def test_pointnet2_maps_points_to_logits_and_rejects_bad_names():
    torch.manual_seed(0)
    model = create_point_model("pointnet2_ssg", num_classes=3, width=0.125, centroids=[32, 8], neighbours=[8, 8])
    points = torch.randn(6, 128, 3)
    assert model(points).shape == (6, 3)
    with pytest.raises(FdslError, match="unknown point-cloud model 'pointnet3'"):
        create_point_model("pointnet3", num_classes=3)
    with pytest.raises(FdslError, match="does not take the options"):
        create_point_model("pointnet2_ssg", num_classes=3, depth=4)


# --- scores -------------------------------------------------------------------------------------------
def test_oa_and_macc_on_hand_made_predictions():
    # class 0: 3 of 4 right, class 1: 0 of 1, class 2: 1 of 1 -> OA 4/6, mAcc (0.75 + 0 + 1) / 3
    targets = torch.tensor([0, 0, 0, 0, 1, 2])
    predicted = torch.tensor([0, 0, 0, 2, 0, 2])
    logits = torch.nn.functional.one_hot(predicted, 4).float()  # a fourth class with no object
    hits, totals = class_counts(logits, targets, 4)
    assert hits.tolist() == [3, 0, 1, 0] and totals.tolist() == [4, 1, 1, 0]
    overall, mean_class = accuracy_scores(hits, totals)
    assert overall == pytest.approx(100 * 4 / 6)
    assert mean_class == pytest.approx(100 * (0.75 + 0 + 1) / 3)



# --- tiny runs ---------------------------------------------------------------------------------------
TINY_MODEL = TINY_POINT_MODEL


def tiny_points_pretrain(*layers):
    return tiny("points", PRETRAIN, *layers)


def tiny_points_finetune(dataset, *layers):
    return tiny("points", FINETUNE, *layers, dataset=dataset)


@pytest.fixture(scope="module")
def pretrained_points(tmp_path_factory):
    from fdsl.train.run import pretrain

    out = tmp_path_factory.mktemp("points") / "pre"
    return pretrain(tiny_points_pretrain(), out)


@pytest.fixture
def point_folder(tmp_path):
    return make_point_folder(tmp_path / "objects", classes=3, per_class=10, points=200)


def read_rows(run):
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # trains a model
def test_tiny_points_pretrain_scores_oa_and_macc_and_saves_weights(pretrained_points):
    out = pretrained_points.out
    rows = read_rows(out)
    assert list(rows[0])[:5] == ["epoch", "train_loss", "val_loss", "val_oa", "val_macc"]
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(0 <= float(row["val_oa"]) <= 100 and 0 <= float(row["val_macc"]) <= 100 for row in rows)
    described = json.loads((out / "last" / "config.json").read_text())
    assert described["architecture"] == "pointnet2_ssg" and described["points"] == 128
    assert described["label_names"] == ["00000", "00001", "00002"] and (described["fdsl"]["task"], described["fdsl"]["phase"]) == ("points", "pretrain")
    assert "pcfractaldb" in (out / "last" / "README.md").read_text()
    from fdsl.tasks.points.weights import load_point_model

    assert load_point_model(out / "best")(torch.zeros(2, 128, 3)).shape == (2, 3)


@pytest.mark.slow  # trains a model
def test_finetune_from_the_pretraining_with_a_new_head(pretrained_points, point_folder, tmp_path, run_cli):
    from fdsl.train.run import finetune

    result = finetune(tiny_points_finetune(point_folder, {"init": str(pretrained_points.out)}), tmp_path / "ft")
    # the saved best/ weights, scored alone by `fdsl evaluate`, give what the run recorded
    args = [tmp_path / "ft" / "best", "--dataset", point_folder, "--holdout", "0.2", "--workers", "0"]
    code, out, err = run_cli("evaluate", "--task", "points", *args)
    assert code == 0, err
    assert f"overall accuracy {result.best['val_oa']:.2f}% mean class accuracy {result.best['val_macc']:.2f}%" in out
    assert "on 6 samples of" in out, out
    code, _, err = run_cli("evaluate", *args)  # the default task is classification
    assert code == 2 and len(err.strip().splitlines()) == 1 and "holds points weights; pass --task points" in err
    code, _, err = run_cli("evaluate", "--task", "points", *args[:-2], "--holdout", "0")
    assert code == 2 and "holds out no object" in err, err
    code, _, err = run_cli("evaluate", "--task", "points", pretrained_points.out / "last", *args[1:])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "was trained on 3 classes (00000, 00001, 00002) but" in err and "has 3 (class0, class1, class2)" in err
    # image tasks refuse to start from point weights, naming the task, and write no run folder
    for task in ("classification", "segmentation"):
        code, _, err = run_cli("finetune", "--task", task, "--init", tmp_path / "ft", "--dataset", point_folder,
                               "-o", tmp_path / task)
        assert code == 2 and "holds points weights" in err and "pass --task points" in err, err
        assert not (tmp_path / task).exists()
    rows = read_rows(tmp_path / "ft")
    assert len(rows) == 2 and rows[-1]["val_oa"] != ""
    assert result.best["val_oa"] == max(float(row["val_oa"]) for row in rows)
    described = json.loads((tmp_path / "ft" / "last" / "config.json").read_text())
    assert described["label_names"] == ["class0", "class1", "class2"]
    assert described["model_args"] == TINY_MODEL["kwargs"]  # the checkpoint's architecture


@pytest.mark.slow  # trains a model
def test_init_loads_the_backbone_and_keeps_a_fresh_classifier(pretrained_points):
    from fdsl.train.checkpoint import load_weights
    from fdsl.tasks.points.weights import load_backbone

    weights = load_weights(pretrained_points.out / "last")
    torch.manual_seed(0)
    model = create_point_model("pointnet2_ssg", num_classes=5, **TINY_MODEL["kwargs"])
    fresh = model.classifier.weight.detach().clone()
    load_backbone(model, weights, ["a", "b", "c", "d", "e"])
    state = model.state_dict()
    backbone = [k for k in weights.state_dict if not k.startswith("classifier.")]
    assert backbone and all(torch.equal(state[k], weights.state_dict[k]) for k in backbone)
    assert torch.equal(model.classifier.weight, fresh) and model.classifier.weight.shape == (5, 32)


@pytest.mark.slow  # trains a model
def test_init_that_fits_nothing_fails_in_one_line(pretrained_points, tmp_path):
    import safetensors.torch

    from fdsl.train.checkpoint import load_weights
    from fdsl.tasks.points.weights import load_backbone

    safetensors.torch.save_file({"blocks.0.weight": torch.zeros(3)}, str(tmp_path / "vit.safetensors"))
    model = create_point_model("pointnet2_ssg", num_classes=3, **TINY_MODEL["kwargs"])
    with pytest.raises(FdslError, match="has no weight that fits PointNet2SSG"):
        load_backbone(model, load_weights(tmp_path / "vit.safetensors"), ["a", "b", "c"])
    wider = create_point_model("pointnet2_ssg", num_classes=3, width=0.25, centroids=[32, 8], neighbours=[8, 8])
    with pytest.raises(FdslError, match="does not fit PointNet2SSG: .* missing or of another shape"):
        load_backbone(wider, load_weights(pretrained_points.out / "last"), ["a", "b", "c"])


@pytest.mark.slow  # trains a model
def test_finetune_resumed_after_an_interruption_equals_an_uninterrupted_run(point_folder, tmp_path, monkeypatch):
    import safetensors.torch

    from train_helpers import interrupt_epoch
    from fdsl.train.run import finetune

    whole = finetune(tiny_points_finetune(point_folder), tmp_path / "whole")
    # the second epoch is cut short, after one checkpoint
    interrupt_epoch(monkeypatch, 2, lambda: finetune(tiny_points_finetune(point_folder), tmp_path / "cut"))
    assert len(read_rows(tmp_path / "cut")) == 1
    resumed = finetune(tiny_points_finetune(point_folder), tmp_path / "cut", resume=True)
    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert [r["val_oa"] for r in whole.history] == [r["val_oa"] for r in resumed.history]
    finetune(tiny_points_finetune(point_folder, {"train": {"seed": 1}}), tmp_path / "other")
    c = safetensors.torch.load_file(tmp_path / "other" / "last" / "model.safetensors")
    assert not torch.equal(a["classifier.weight"], c["classifier.weight"])  # the comparison above can fail


def test_limited_data_trains_on_the_first_share_of_each_class(point_folder, tmp_path):
    config = tiny_points_finetune(point_folder, {"data": {"train_share": 0.25}})
    data = get_task("points").datasets(config, FINETUNE)
    assert len(data.train) == 6 and len(data.val) == 6 and data.label_names == ["class0", "class1", "class2"]


@pytest.mark.slow  # 18-22 s: two processes import torch and compile the chaos-game kernels
def test_torchrun_with_two_processes_pretrains_pcfractaldb_on_the_fly(tmp_path):
    """`fdsl pretrain --family pcfractaldb` picks the points task; each rank renders its share."""
    import yaml

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUNS["points"][PRETRAIN]))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fdsl", "pretrain", "--family", "pcfractaldb", "--config", str(config), "--batch-size", "4",
         "--workers", "0", "-o", str(out)],  # loader workers under torchrun: tests/test_distributed.py
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert log.count("batch 4 x 2 process(es)") == 1, log
    assert log.count("epoch 2/2 train loss") == 1, log
    rows = read_rows(out)
    assert [row["epoch"] for row in rows] == ["1", "2"] and rows[-1]["val_oa"] != ""
    # All 24 samples of an epoch were seen: 2 ranks x 3 steps x 4 (each rank its own share).
    assert all(float(row["images_per_s"]) * float(row["epoch_s"]) == pytest.approx(24) for row in rows)
    assert json.loads((out / "last" / "config.json").read_text())["fdsl"]["phase"] == "pretrain"


def test_cli_finetune_on_a_folder_with_a_nan_file_exits_2_naming_it(point_folder, tmp_path, capsys):
    import yaml

    from fdsl.cli import main

    np.save(point_folder / "class1" / "005.npy", np.array([[0, 0, np.nan]] * 10, np.float32))
    config = tmp_path / "ft.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "augment": {"points": 128}, "train": TINY_POINT_LOOP}))
    code = main(["finetune", "--task", "points", "--config", str(config), "--dataset", str(point_folder),
                 "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("fdsl: error: ") and "005.npy" in err and "NaN or infinite" in err
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_points_task_is_found_by_name_and_family_and_its_presets_resolve():
    from fdsl.configs import resolve

    task = get_task("points")
    assert task_of_family("pcfractaldb") is task
    assert task.metrics == ("oa", "macc") and "cpu-small" in task.presets(PRETRAIN)
    for phase in (PRETRAIN, FINETUNE):
        for name, preset in task.presets(phase).items():
            config = resolve(preset(), {})
            assert config.model.name == "pointnet2_ssg" and config.augment.points == 1024, name
    assert task.preset(PRETRAIN, "cpu-small").data.family == "pcfractaldb"
    with pytest.raises(FdslError, match="pcfractaldb-scenes.* makes scene samples"):
        resolve(task.preset(PRETRAIN, "cpu-small"), {"data": {"family": "pcfractaldb-scenes"}})


@pytest.mark.slow  # trains a model
def test_compare_scores_points_runs_with_their_own_metrics(pretrained_points, point_folder, tmp_path):
    """`compare` of the points task: scratch takes the checkpoint's architecture, the table its OA/mAcc."""
    import dataclasses

    from fdsl.experiments.compare import compare

    recipe = tiny_points_finetune(point_folder, {"train": {"epochs": 1}})
    recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, kwargs={"width": 0.25}))
    comparison = compare(recipe, [str(pretrained_points.out / "last")], seeds=[0], out=tmp_path / "cmp",
                         labels=["pcfractaldb"], task=get_task("points"))
    assert comparison.metrics == ("oa", "macc")
    assert "overall accuracy (%)" in comparison.table and "mean class accuracy (%)" in comparison.table
    saved = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert saved["metrics"] == ["oa", "macc"] and 0 <= saved["groups"][1]["runs"][0]["score"] <= 100
    scratch = yaml.safe_load((tmp_path / "cmp" / "scratch" / "seed0" / "config.yaml").read_text())
    assert scratch["model"]["kwargs"] == TINY_MODEL["kwargs"]  # the checkpoint's, not the recipe's width 0.25
