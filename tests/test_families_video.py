"""The video sample kind and Video Perlin Noise (VPN): the 3-D noise kernel against Perlin's reference,
the family's grid, what its frequencies do to the clips, bad options, the CLI (render, show,
search, 1 vs 2 workers, WebDataset shards, the .mp4 viewing copy) and the animation helpers."""
from __future__ import annotations

import importlib.util
import io
import json
import math
import tarfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from fdsl.errors import FdslError
from fdsl.formulas import vpn
from fdsl.kernels import perlin_noise3 as pn3
from fdsl.registry import get_formula
from fdsl.samples.video import MP4_VIDEO, VIDEO, encode_mp4, strip_indices, yuv420_planes
from fdsl.seeding import RENDER, derive_rng
from fdsl.viz.animation import clip_grid, formula_animation, save_animation
from fdsl.viz.gallery import LABEL_WIDTH, STRIP_GAP

from conftest import tree_snapshot
from train_helpers import one_line_error

QUICK = {"size": 16, "frames": 4}
QUICK_FLAGS = ["--size", "16", "--frames", "4"]
REFERENCE = Path(__file__).resolve().parent.parent / "benchmarks" / "reference" / "vpn.py"


def clip_of(formula, category: int, instance: int = 0, seed: int = 0) -> np.ndarray:
    return formula.sample(formula.search_category(seed, category), seed, category, instance)


def files(root: Path, pattern: str = "*/*") -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob(pattern)) if p.is_file()}


# --- the 3-D noise ------------------------------------------------------------------------------
def test_noise_is_perlins_reference_noise():
    """The values Perlin's 2002 ImprovedNoise gives (the Rosetta Code "Perlin noise" task's 3.14, 42, 7), bit for bit."""
    points = [(3.14, 42.0, 7.0), (-4.2, 10.0, 6.0), (0.5, 0.5, 0.5), (0.1, 0.1, 0.1)]
    expected = [0.13691995878400012, 0.14208000000000043, -0.25, 0.1861607143544832]
    assert [float(pn3.perlin3(*p)) for p in points] == expected


def test_noise_is_zero_on_the_lattice_periodic_and_bounded():
    g = np.arange(-6.0, 6.0)
    assert np.all(pn3.perlin3(g[:, None, None], g[None, :, None], g[None, None, :]) == 0.0)
    x, y, z = np.random.default_rng(1).uniform(-600, 600, (3, 20_000))
    values = pn3.perlin3(x, y, z)
    shifted = pn3.perlin3(x + pn3.PERIOD, y - pn3.PERIOD, z + 2 * pn3.PERIOD)  # the fractions round anew
    np.testing.assert_allclose(values, shifted, atol=1e-9)
    assert np.abs(values).max() < 1.04 and values.std() > 0.2 and abs(values.mean()) < 0.02


def test_the_plain_python_reference_renders_the_same_bytes():
    spec = importlib.util.spec_from_file_location("reference_vpn", REFERENCE)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    for config in (QUICK, {"size": 11, "frames": 3, "variant": "high", "octaves": 4, "lacunarity": 1.7}):
        formula = get_formula("vpn", **config)
        for category in (0, 37):
            params = formula.search_category(0, category)
            fast = formula.render(params, 0, derive_rng(0, RENDER, category, 5))
            slow = reference.render(formula, params, 0, derive_rng(0, RENDER, category, 5))
            assert np.array_equal(fast, slow)


# --- the family ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["low", "high"])
def test_variants_are_grids_of_spatial_and_temporal_frequencies(variant):
    formula = get_formula("vpn", variant=variant)
    assert formula.category_count == 64 and formula.kind is VIDEO
    cells = [formula.search_category(0, i) for i in range(64)]
    assert len({(c["frequency_x"], c["frequency_y"], c["frequency_t"]) for c in cells}) == 64
    assert cells[1]["frequency_t"] > cells[0]["frequency_t"]  # time varies fastest
    with pytest.raises(FdslError, match="VPN-.* has 64 categories"):
        formula.search_category(0, 64)
    low, high = (get_formula("vpn", variant=v).search_category(0, 63) for v in ("low", "high"))
    assert high["frequency_x"] > low["frequency_x"] and high["frequency_t"] > low["frequency_t"]


def test_frequencies_replace_the_variants_axis():
    formula = get_formula("vpn", spatial_frequencies=[1, "2.5"], temporal_frequencies=(0.25, 8, 3))
    assert formula.config.spatial_frequencies == (1.0, 2.5) and formula.category_count == 2 * 2 * 3
    assert formula.search_category(0, 11) == {"cell": 11, "frequency_x": 2.5, "frequency_y": 2.5, "frequency_t": 3.0}
    only_time = get_formula("vpn", variant="high", temporal_frequencies=[1])
    assert only_time.category_count == 16 and only_time.search_category(0, 15)["frequency_x"] == 16.0


def test_clips_are_grey_uint8_with_one_grey_mapping_for_all():
    formula = get_formula("vpn", size=24, frames=6)
    clip = clip_of(formula, 5)
    assert clip.shape == (6, 24, 24) and clip.dtype == np.uint8 and clip.flags.c_contiguous
    assert not np.array_equal(clip, clip_of(formula, 5, instance=1))  # another noise offset
    assert np.array_equal(clip, clip_of(formula, 5))
    noise = np.array([[-1.0, -0.6, 0.0], [1e-9, 0.6, 1.0]])  # 3 sd of the fBm: 0.53
    gain = vpn.grey_gain(3, 0.5)
    assert vpn.to_grey(noise, gain).tolist() == [[0, 0, 128], [128, 255, 255]]
    assert vpn.to_grey(np.array([3 * pn3.fbm_std(3, 0.5)]), gain)[0] == 255  # +3 sd: the top of the range
    assert gain == 127.5 / (3 * pn3.NOISE3_STD * math.sqrt(1 + 0.25 + 0.0625) / 1.75)


def test_contrast_does_not_tell_the_speed():
    """Stretching each clip to its min and max gave fast clips less contrast per frame: not any more."""
    formula = get_formula("vpn", size=32, frames=16, spatial_frequencies=[2], temporal_frequencies=[0.5, 4])
    slow, fast = ([clip_of(formula, c, i).astype(float) for i in range(6)] for c in (0, 1))
    contrast = [np.mean([c.std(axis=(1, 2)).mean() for c in clips]) for clips in (slow, fast)]
    assert abs(contrast[1] / contrast[0] - 1) < 0.12
    assert 120 < np.mean(fast) < 136 and np.mean([(c == 0).mean() + (c == 255).mean() for c in fast]) < 0.01


def mean_change(clips: list[np.ndarray], axis: int) -> float:
    return float(np.mean([np.abs(np.diff(c.astype(float), axis=axis)).mean() for c in clips]))


def test_temporal_frequency_sets_the_speed_and_spatial_frequency_the_scale():
    formula = get_formula("vpn", size=48, frames=8)
    grid = formula.grid.axes
    index = {(c["frequency_x"], c["frequency_y"], c["frequency_t"]): c["cell"]
             for c in (formula.search_category(0, i) for i in range(formula.category_count))}

    def clips(fx, fy, ft):
        return [clip_of(formula, index[fx, fy, ft], instance) for instance in range(3)]

    spatial, temporal = grid["frequency_x"], grid["frequency_t"]
    speeds = [mean_change(clips(spatial[0], spatial[0], ft), axis=0) for ft in temporal]
    assert speeds == sorted(speeds) and speeds[-1] > 3 * speeds[0]
    across = [mean_change(clips(fx, spatial[0], temporal[0]), axis=2) for fx in spatial]
    assert across == sorted(across) and across[-1] > 2.5 * across[0]
    stretched = clips(spatial[-1], spatial[0], temporal[0])  # fine along x, coarse along y
    assert mean_change(stretched, axis=2) > 2 * mean_change(stretched, axis=1)


@pytest.mark.parametrize("option, value, needles", [
    ("frames", 0, ["frames = 0", "allowed: 2.."]),
    ("frames", 1, ["frames = 1", "allowed: 2.."]),
    ("size", 4, ["size = 4", "allowed: 8.."]),
    ("spatial_frequencies", [1, -2], ["spatial_frequencies holds -2.0", "(0, 256]"]),
    ("temporal_frequencies", [0], ["temporal_frequencies holds 0.0", "(0, 256]"]),
    ("temporal_frequencies", [float("nan")], ["temporal_frequencies holds nan", "(0, 256]"]),
    ("spatial_frequencies", [300], ["spatial_frequencies holds 300.0", "(0, 256]"]),
    ("spatial_frequencies", [], ["spatial_frequencies is empty", "allowed"]),
    ("spatial_frequencies", [2, 2.0], ["repeats a value", "(2.0, 2.0)"]),
    ("spatial_frequencies", 3, ["'spatial_frequencies' = 3", "expected a list of numbers"]),
    ("temporal_frequencies", ["fast"], ["'temporal_frequencies' = 'fast'", "expected float"]),
    ("octaves", 0, ["octaves = 0", "allowed: 1..8"]),
    ("persistence", 0.0, ["persistence = 0.0", "(0.0, 1.0]"]),
    ("lacunarity", 0.5, ["lacunarity = 0.5", "[1.0, 4.0]"]),
    ("variant", "medium", ["unknown variant 'medium'", "low, high"]),
])
def test_bad_options_name_the_value(option, value, needles):
    with pytest.raises(FdslError) as error:
        get_formula("vpn", **{option: value})
    message = str(error.value)
    assert "\n" not in message and all(needle in message for needle in needles), message


def test_a_clip_too_large_to_make_is_refused():
    get_formula("vpn", size=4096, frames=16)  # 2^28 voxels: the largest
    with pytest.raises(FdslError, match=r"frames x size x size = 285,212,672; allowed: <= 268,435,456"):
        get_formula("vpn", size=4096, frames=17)


@pytest.mark.parametrize("argv, needles", [
    (["render", "vpn", "--frames", "0"], ["frames = 0", "allowed"]),
    (["render", "vpn", "--spatial-frequencies", "1", "-2"], ["holds -2.0", "(0, 256]"]),
    (["render", "vpn", "--temporal-frequencies", "0", "--format", "wds"], ["holds 0.0", "(0, 256]"]),
    (["search", "vpn", "--temporal-frequencies"], ["temporal_frequencies is empty"]),
    (["show", "vpn", "--octaves", "9"], ["octaves = 9", "1..8"]),
    (["render", "vpn", "--variant", "medium"], ["unknown variant 'medium'", "low, high"]),
])
def test_bad_options_on_the_command_line_write_nothing(tmp_path, run_cli, argv, needles):
    work = tmp_path / "work"
    work.mkdir()
    before = tree_snapshot(tmp_path)
    out = work / ("gallery.png" if argv[0] == "show" else "out")
    code, stdout, err = run_cli(*argv, "-o", out)
    one_line_error(code, err, *needles, stdout=stdout)
    assert tree_snapshot(tmp_path) == before


def test_more_categories_than_the_grid_is_one_error(tmp_path, run_cli):
    code, _, err = run_cli("render", "vpn", "--categories", "65", "--instances", "1", "-o", tmp_path / "out")
    errors = [line for line in err.replace("\r", "\n").splitlines() if "error" in line]  # beside the search's bar
    assert code == 2 and len(errors) == 1 and "VPN-low has 64 categories" in errors[0]
    assert "or give more --spatial-frequencies or --temporal-frequencies" in errors[0]
    assert not (tmp_path / "out").exists()


# --- the command line ---------------------------------------------------------------------------
def test_render_with_one_or_two_workers_writes_the_same_bytes(tmp_path, run_cli):
    cards = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        code, stdout, err = run_cli("render", "vpn", "--categories", "3", "--instances", "3", "--data-seed", "4",
                                    "--workers", workers, "-o", out, *QUICK_FLAGS)
        assert code == 0, err
        assert "wrote 9 video samples of 3 categories" in stdout
        cards.append(json.loads((out / "dataset_card.json").read_text()))
    assert files(tmp_path / "w1") == files(tmp_path / "w2") and len(files(tmp_path / "w1")) == 9
    assert cards[0]["files"] == cards[1]["files"] and cards[0]["kind"] == "video" and cards[0]["mp4"] is False
    formula = get_formula("vpn", **QUICK)
    stored = VIDEO.read(tmp_path / "w1" / "00002", "00002_00001")
    assert np.array_equal(stored, formula.sample(formula.search_category(4, 2), 4, 2, 1))


def test_mp4_viewing_copies_are_deterministic_and_play_the_clip(tmp_path, run_cli):
    for workers in ("1", "2"):
        code, _, err = run_cli("render", "vpn", "--categories", "2", "--instances", "2", "--mp4", "--workers", workers,
                               "--size", "24", "--frames", "6", "-o", tmp_path / workers)
        assert code == 0, err
    assert files(tmp_path / "1") == files(tmp_path / "2")
    assert sorted(p.name for p in (tmp_path / "1" / "00001").iterdir()) == [
        "00001_00000.mp4", "00001_00000.npy", "00001_00001.mp4", "00001_00001.npy"]
    card = json.loads((tmp_path / "1" / "dataset_card.json").read_text())
    assert card["mp4"] is True and card["mp4_encoder"].startswith(f"PyAV {av.__version__}")
    assert "00001/00001_00001.mp4" in card["files"]
    clip = np.load(tmp_path / "1" / "00001" / "00001_00001.npy")
    with av.open(str(tmp_path / "1" / "00001" / "00001_00001.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 24, 24)
        frames = np.array([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    assert frames.shape == clip.shape
    assert np.abs(frames.astype(float) - clip).mean() < 4  # lossy, but the clip


def test_mp4_of_odd_sized_rgb_clips_and_the_integer_colour_conversion():
    g = np.random.default_rng(3)
    smooth = np.repeat(np.repeat(g.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8), 4, axis=1), 4, axis=2)[:, :15, :19]
    data = encode_mp4(smooth)
    assert data == encode_mp4(smooth.copy())
    with av.open(io.BytesIO(data)) as container:
        frames = np.array([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert frames.shape == (3, 16, 20, 3)  # the last row and column repeated
    assert np.abs(frames[:, :15, :19].astype(float) - smooth).mean() < 12
    grey = yuv420_planes(np.full((4, 6, 3), (0, 128, 255), np.uint8))
    assert grey.shape == (6, 6) and grey[0, 0] == 16 + ((129 * 128 + 25 * 255 + 128) >> 8)


def test_webdataset_shards_hold_the_clips(tmp_path, run_cli):
    code, _, err = run_cli("render", "vpn", "--categories", "2", "--instances", "3", "--format", "wds",
                           "--shard-size", "4", "--mp4", "-o", tmp_path / "wds", *QUICK_FLAGS)
    assert code == 0, err
    code, _, err = run_cli("render", "vpn", "--categories", "2", "--instances", "3", "--mp4",
                           "-o", tmp_path / "folder", *QUICK_FLAGS)
    assert code == 0, err
    members = {}
    for path in sorted((tmp_path / "wds" / "shards").glob("*.tar")):
        with tarfile.open(path) as tar:
            members.update({m.name: tar.extractfile(m).read() for m in tar})
    assert {n: b for n, b in members.items() if not n.endswith(".cls")} == files(tmp_path / "folder")
    assert sorted(n.rsplit(".", 1)[1] for n in members) == ["cls"] * 6 + ["mp4"] * 6 + ["npy"] * 6
    code, out, _ = run_cli("verify", tmp_path / "wds")
    assert code == 0, out


def test_show_draws_frame_strips_and_search_writes_the_grid(tmp_path, run_cli):
    code, _, err = run_cli("show", "vpn", "--categories", "3", "--instances", "2", "--tile", "20",
                           "-o", tmp_path / "show.png", *QUICK_FLAGS)
    assert code == 0, err
    strip = 4 * 20 + 3  # four frames and the lines between them
    assert Image.open(tmp_path / "show.png").size == (LABEL_WIDTH + 2 * (strip + STRIP_GAP), 3 * 22)
    code, _, err = run_cli("search", "vpn", "--categories", "64", "--variant", "high", "-o", tmp_path / "cats")
    assert code == 0, err
    stored = json.loads((tmp_path / "cats" / "categories.json").read_text())["categories"]
    assert stored[63] == {"cell": 63, "frequency_x": 16.0, "frequency_y": 16.0, "frequency_t": 16.0}


# --- the kind's item, tile and animations -------------------------------------------------------
def test_training_item_is_a_video_tensor_for_transforms_v2():
    clip = clip_of(get_formula("vpn", **QUICK), 3)
    item = VIDEO.training_item(clip)
    assert isinstance(item, tv_tensors.Video) and item.dtype == torch.uint8 and item.shape == (4, 3, 16, 16)
    assert torch.equal(item[:, 1], torch.from_numpy(clip))
    rgb = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    assert torch.equal(MP4_VIDEO.training_item(rgb).permute(0, 2, 3, 1), torch.from_numpy(rgb))
    crop = v2.Compose([v2.RandomResizedCrop(8, antialias=True), v2.RandomHorizontalFlip()])(item)
    assert isinstance(crop, tv_tensors.Video) and crop.shape == (4, 3, 8, 8)


def test_tile_is_a_strip_of_frames_from_first_to_last():
    assert strip_indices(16) == [0, 5, 10, 15] and strip_indices(3) == [0, 1, 2] and strip_indices(1) == [0]
    clip = np.stack([np.full((6, 6), 10 * k, np.uint8) for k in range(16)])
    tile = VIDEO.tile(clip, 12)
    assert tile.shape == (12, 4 * 12 + 3, 3)
    assert [int(tile[0, 13 * k, 0]) for k in range(4)] == [0, 50, 100, 150]


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animations_play_every_frame(tmp_path, suffix):
    formula = get_formula("vpn", size=24, frames=6)
    clip = clip_of(formula, 7)
    save_animation(clip, tmp_path / f"clip{suffix}")
    grid = clip_grid([[clip, clip_of(formula, 8)], [clip]], 16)
    assert grid.shape == (6, 2 * 16 + 2, 2 * 16 + 2, 3)
    assert np.array_equal(grid[:, 18:, :16], grid[:, :16, :16])  # row 2 is clip 7 again
    save_animation(grid, tmp_path / f"grid{suffix}", frame_rate=4)
    categories = [formula.search_category(0, c) for c in range(3)]
    gallery = formula_animation(formula, categories, seed=0, instances=[0, 4], tile=20)
    assert gallery.shape == (6, 3 * 22 - 2, LABEL_WIDTH + 2 * 22 - 2, 3)
    assert np.array_equal(gallery[:, 22:42, LABEL_WIDTH + 22:], clip_grid([[clip_of(formula, 1, 4)]], 20))
    assert gallery[:, :, :LABEL_WIDTH].max() > 200  # the row labels
    with Image.open(tmp_path / f"clip{suffix}") as picture:
        assert (picture.n_frames, picture.size) == (6, (24, 24))
        picture.seek(5)
        assert np.abs(np.asarray(picture.convert("L"), dtype=float) - clip[5]).max() <= 1
    with Image.open(tmp_path / f"grid{suffix}") as picture:
        picture.seek(1)
        picture.load()
        assert (picture.n_frames, picture.size, picture.info["duration"]) == (6, (34, 34), 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"clip{suffix}", f"grid{suffix}"]


def test_lossy_webp_is_smaller_and_close(tmp_path):
    clip = clip_of(get_formula("vpn", size=48, frames=4), 7)
    save_animation(clip, tmp_path / "exact.webp")
    save_animation(clip, tmp_path / "lossy.webp", quality=80)
    assert (tmp_path / "lossy.webp").stat().st_size < (tmp_path / "exact.webp").stat().st_size / 2
    with Image.open(tmp_path / "lossy.webp") as picture:
        picture.seek(3)
        assert np.abs(np.asarray(picture.convert("L"), dtype=float) - clip[3]).mean() < 4


@pytest.mark.parametrize("name, options, message", [
    ("clip.mp4", {}, r"unknown suffix; allowed: \.gif, \.webp"),
    ("clip.gif", {"quality": 80}, "quality = 80; allowed: 1..100, for WebP only"),
    ("clip.webp", {"quality": 0}, "quality = 0; allowed"),
    ("clip.gif", {"frame_rate": 0}, "frame_rate = 0; allowed: >= 1"),
])
def test_bad_animations_are_refused(tmp_path, name, options, message):
    with pytest.raises(FdslError, match=message):
        save_animation(np.zeros((2, 8, 8), np.uint8), tmp_path / name, **options)
    assert not list(tmp_path.iterdir())
