"""Point-cloud training (issue 12): the point-folder reader and its errors, resampling, the point
augmentations, the neighbourhood operations of PointNet++, OA / mAcc, and tiny pretrain ->
finetune runs (alone, resumed, and under a 2-process torchrun)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fdsl.data.pointfolders import (PointSamples, normalise, read_points, resample, scan_point_folder,
                                    split_point_files)
from fdsl.errors import FdslError
from fdsl.train.points.augment import DropPoints, Jitter, RotateUp, ScaleAxes, Translate, build_point_augment
from fdsl.train.points.config import PointAugmentConfig
from fdsl.train.points.models import ball_query, create_point_model, farthest_point_sample, gather_points
from fdsl.train.points.objective import accuracy_scores, class_counts


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
    for name, reason in (("text.npy", "cannot be read"), ("text.off", "not an OFF file"),
                         ("big.ply", "binary_big_endian")):
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


def make_point_folder(root, classes: int = 3, per_class: int = 10, points: int = 64):
    """Classes told apart by shape: a stretched blob along axis c."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            blob = rng.normal(size=(points, 3)) * 0.2
            blob[:, c % 3] *= 5
            np.save(root / f"class{c}" / f"{i:03d}.npy", blob.astype(np.float32))
    return root


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

