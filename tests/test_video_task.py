"""The video task: torchvision's video ResNets at any depth and width, I3D inflation of a 2-D timm ResNet,
clip transforms, folders of real videos (made here with PyAV) and their splits, every bad input in one
line with nothing written, and, marked slow, the runs: VPN pre-training found by the family's kind,
fine-tuning from it and from an inflated image run, ``fdsl evaluate`` against what the run recorded,
resume after Ctrl-C, two torchrun ranks."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np
import pytest
import safetensors.torch
import timm
import torch
import yaml
from torchvision import tv_tensors
from torchvision.models import video as tv_video

from fdsl.configs import resolve
from fdsl.data.videofolders import (decode_video, group_split, holdout_split, listed_frames, official_split,
                                    scan_video_folder)
from fdsl.errors import FdslError
from fdsl.tasks import get_task, task_of_family
from fdsl.tasks.video import objective
from fdsl.tasks.video.config import ClipConfig
from fdsl.tasks.video.models import create_video_model, image_resnet_layout, inflated_state
from fdsl.tasks.video.presets import cpu_small_finetune, cpu_small_pretrain
from fdsl.tasks.video.transforms import TemporalWindow, eval_transform, train_transform

from conftest import tree_snapshot
from train_helpers import one_line_error, torchrun

UD810 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ud810-actions"
TINY_MODEL = {"name": "r3d_10", "kwargs": {"widths": [4, 4, 8, 8], "stem_width": 4, "stem_pool": True}}
TINY_CLIP = {"frames": 4, "stride": 2, "size": 16, "resize": 20}
TINY_TRAIN = {"epochs": 2, "batch_size": 3, "workers": 0, "threads": 1, "log_interval": 1000}
#: Flags of a tiny fine-tuning on :func:`make_video_folder`'s videos, person 1 held out.
TINY_FLAGS = ["--group", r"P(\d+)", "--test-group", "1", "--clip-frames", "4", "--clip-stride", "2", "--clip-size",
              "16", "--set", "augment.resize=20", "--epochs", "2", "--batch-size", "3", "--workers", "0",
              "--set", "train.threads=1"]


# --- synthetic videos -------------------------------------------------------------------------------
def moving_square(action: int, frames: int, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 (T, H, W, 3): a bright square moving right (action 1), down (2) or diagonally (3) over noise."""
    rng = np.random.default_rng(seed)
    clip = rng.integers(0, 60, (frames, height, width, 3), dtype=np.uint8)
    dx, dy = {1: (1, 0), 2: (0, 1), 3: (1, 1)}[action]
    for t in range(frames):
        x, y = 2 + dx * t % (width - 8), 2 + dy * t % (height - 8)
        clip[t, y:y + 6, x:x + 6] = 230
    return clip


def write_video(path: Path, clip: np.ndarray, rate: int = 25) -> Path:
    """``clip`` as MPEG-4 Part 2 in the container its suffix names (UD810's clips are Xvid AVIs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        for frame in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_video_folder(root: Path, *, people: int = 3, trials: int = 1, frames: int = 10) -> Path:
    """UD810's layout and names: action<a>/PS7A<a>P<p>T<t>.avi, 3 actions."""
    for action in (1, 2, 3):
        for person in range(1, people + 1):
            for trial in range(1, trials + 1):
                clip = moving_square(action, frames + person, seed=10 * person + trial)
                write_video(root / f"action{action}" / f"PS7A{action}P{person}T{trial}.avi", clip)
    return root


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    return make_video_folder(tmp_path_factory.mktemp("videos") / "actions")


# --- models -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_default_widths_are_torchvisions_model_key_for_key(name):
    ours = create_video_model(name, num_classes=5)
    theirs = getattr(tv_video, name)(num_classes=5)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    clip = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(ours.eval()(clip), theirs.eval()(clip))


@pytest.mark.parametrize("name", ["r3d_10", "mc3_34", "r2plus1d_10", "r3d_50"])
def test_any_depth_and_width_maps_clips_to_logits(name):
    model = create_video_model(name, num_classes=3, widths=[4, 8, 8, 16], stem_width=8, stem_pool=True)
    assert model(torch.randn(2, 3, 4, 32, 32)).shape == (2, 3)


def test_bad_names_and_options_fail_in_one_line():
    with pytest.raises(FdslError, match="unknown video model 'r3d_19'; valid: r3d_10, r3d_18"):
        create_video_model("r3d_19", num_classes=3)
    with pytest.raises(FdslError, match="takes no option 'depth'"):
        create_video_model("r3d_18", num_classes=3, depth=18)
    with pytest.raises(FdslError, match="four stage widths"):
        create_video_model("r3d_18", num_classes=3, widths=[8, 8])


# --- inflation --------------------------------------------------------------------------------------
def narrow_resnet(name: str = "resnet18", classes: int = 7) -> torch.nn.Module:
    return timm.create_model(name, channels=[4, 8, 8, 16], num_classes=classes).eval()


def test_each_kernel_is_repeated_over_time_and_divided_by_its_length():
    image = narrow_resnet()
    video = create_video_model("r3d_18", num_classes=7, widths=[4, 8, 8, 16], stem_pool=True)
    state = inflated_state(image.state_dict(), video.state_dict(), source="2d", new_head=False)
    video.load_state_dict(state)
    stem_2d, stem_3d = image.conv1.weight, video.stem[0].weight
    assert stem_3d.shape == (64, 3, 3, 7, 7)
    torch.testing.assert_close(stem_3d.sum(2), stem_2d)
    assert all(torch.equal(stem_3d[:, :, t], stem_2d / 3) for t in range(3))
    assert torch.equal(video.layer2[0].downsample[0].weight[:, :, 0], image.layer2[0].downsample[0].weight)
    assert torch.equal(video.layer3[1].conv2[1].running_var, image.layer3[1].bn2.running_var)
    assert torch.equal(video.fc.weight, image.fc.weight)


def test_a_still_clip_gives_the_2d_activations_in_its_inner_frames():
    """I3D's "boring video" check: a clip of one repeated image gives, through the inflated stem, the 2-D
    stem's activations (the first and last frames see the zero padding in time)."""
    image = narrow_resnet()
    video = create_video_model("mc3_18", num_classes=7, widths=[4, 8, 8, 16], stem_pool=True)
    video.load_state_dict(inflated_state(image.state_dict(), video.state_dict(), source="2d", new_head=False))
    video.eval()
    picture = torch.randn(1, 3, 32, 32)
    still = picture[:, :, None].repeat(1, 1, 5, 1, 1)
    expected = image.maxpool(image.act1(image.bn1(image.conv1(picture))))
    torch.testing.assert_close(video.stem(still)[:, :, 2], expected, rtol=1e-4, atol=1e-5)
    # mc3's later stages are 2-D kernels in time: every frame of the first stage's inner output matches too
    torch.testing.assert_close(video.layer1(video.stem(still))[:, :, 2], image.layer1(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, depth, widths", [("resnet18", 18, [4, 8, 8, 16]), ("resnet34", 34, [4, 8, 8, 16]),
                                                 ("resnet50", 50, [4, 8, 8, 16])])
def test_the_2d_layout_is_read_from_the_weights(name, depth, widths):
    layout = image_resnet_layout(narrow_resnet(name).state_dict(), name)
    assert layout == {"depth": depth, "widths": widths, "stem_width": 64}


def test_what_cannot_inflate_fails_in_one_line():
    deep_stem = timm.create_model("resnet18d", channels=[4, 8, 8, 16]).state_dict()
    with pytest.raises(FdslError, match="no 2-D ResNet with the plain 7 x 7 stem"):
        image_resnet_layout(deep_stem, "resnet18d")
    resnet26 = timm.create_model("resnet26", channels=[4, 8, 8, 16]).state_dict()
    with pytest.raises(FdslError, match=r"has \[2, 2, 2, 2\] bottlenecks per stage: no video ResNet depth"):
        image_resnet_layout(resnet26, "resnet26")
    video = create_video_model("r3d_18", num_classes=7, widths=[4, 8, 8, 8])  # another width
    with pytest.raises(FdslError, match="'layer4.0.conv1.weight' has shape"):
        inflated_state(narrow_resnet().state_dict(), video.state_dict(), source="2d", new_head=True)


# --- transforms and scores --------------------------------------------------------------------------
def test_training_clips_are_random_windows_and_crops_evaluation_the_centre():
    video = tv_tensors.Video(torch.arange(20, dtype=torch.uint8)[:, None, None, None].expand(20, 3, 24, 32).clone())
    clip = ClipConfig(frames=4, stride=3, size=16, resize=24)
    torch.manual_seed(0)
    first = train_transform(clip)(video)
    assert first.shape == (3, 4, 16, 16) and first.dtype == torch.float32
    torch.manual_seed(0)
    assert torch.equal(train_transform(clip)(video), first)  # the same draws from the same seed
    starts = set()
    for seed in range(30):
        torch.manual_seed(seed)
        starts.add(int(TemporalWindow(4, 3, random=True)(video)[0, 0, 0, 0]))
    assert starts == set(range(11))  # every window of 10 frames out of 20
    centred = TemporalWindow(4, 3, random=False)(video)
    assert centred[:, 0, 0, 0].tolist() == [5, 8, 11, 14] and isinstance(centred, tv_tensors.Video)
    assert eval_transform(clip)(video).shape == (3, 4, 16, 16)
    with pytest.raises(FdslError, match="shorter than the 31 that 11 frames at stride 3 span"):
        TemporalWindow(11, 3, random=False)(video)


def test_a_flip_or_crop_moves_every_frame_alike():
    frame = torch.randint(0, 255, (3, 24, 32), dtype=torch.uint8)
    video = tv_tensors.Video(frame[None].repeat(8, 1, 1, 1))
    clip = ClipConfig(frames=8, stride=1, size=16, resize=24, hflip=1.0)
    out = train_transform(clip)(video)
    assert all(torch.equal(out[:, t], out[:, 0]) for t in range(8))


def test_top1_and_mean_class_accuracy_from_a_hand_made_confusion():
    logits = torch.tensor([[3.0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0], [0, 0, 3]])
    targets = torch.tensor([0, 0, 1, 1, 1, 2])
    matrix = objective.confusion(logits, targets, 3)
    assert matrix.tolist() == [[2, 0, 0], [1, 1, 1], [0, 0, 1]]
    scores = objective.scores(matrix)
    assert scores["top1"] == pytest.approx(100 * 4 / 6) and scores["macc"] == pytest.approx(100 * (1 + 1 / 3 + 1) / 3)


# --- video folders ----------------------------------------------------------------------------------
def test_videos_decode_at_the_short_side_with_every_frame(videos):
    path = videos / "action2" / "PS7A2P3T1.avi"
    frames = decode_video(path, 12)
    assert frames.shape == (13, 12, 16, 3) and frames.dtype == np.uint8 and listed_frames(path) == 13
    big = decode_video(path, 24)
    square = big[5, 2:24, 2:32].astype(int)  # the bright square of frame 5 survives MPEG-4
    assert square.max() > 180 and big[5].astype(int).mean() < 100


def test_splits_by_group_by_share_and_by_official_lists(videos, tmp_path):
    files = scan_video_folder(videos)
    assert files.classes == ["action1", "action2", "action3"] and len(files.paths) == 9
    train, val = group_split(files, r"P(\d+)", "2")
    assert [files.paths[i].name for i in val] == ["PS7A1P2T1.avi", "PS7A2P2T1.avi", "PS7A3P2T1.avi"]
    assert sorted(train + val) == list(range(9))
    assert holdout_split(files, 0.34)[1] == [2, 5, 8]
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("action1/PS7A1P1T1.avi 1\naction3/PS7A3P3T1.avi 3\n")
    (lists / "testlist01.txt").write_text("action2/PS7A2P2T1.avi\n")
    assert official_split(files, lists, 1) == ([0, 8], [4])
    hmdb = tmp_path / "hmdb"
    hmdb.mkdir()
    for action in (1, 2, 3):
        (hmdb / f"action{action}_test_split2.txt").write_text(
            f"PS7A{action}P1T1.avi 1\nPS7A{action}P2T1.avi 2\nPS7A{action}P3T1.avi 0\n")
    assert official_split(files, hmdb, 2) == ([0, 3, 6], [1, 4, 7])


@pytest.mark.parametrize("call, needles", [
    (lambda f, d: group_split(f, r"P(\d+)", "4"), ["data.test_group '4' is none of the groups", "1, 2, 3"]),
    (lambda f, d: group_split(f, r"Q(\d+)", "1"), ["PS7A1P1T1.avi", "does not match data.group 'Q(\\d+)'"]),
    (lambda f, d: official_split(f, d, 1), ["holds neither UCF101's trainlist01.txt"]),
])
def test_bad_splits_fail_in_one_line(videos, tmp_path, call, needles):
    with pytest.raises(FdslError) as error:
        call(scan_video_folder(videos), tmp_path)
    assert "\n" not in str(error.value) and all(n in str(error.value) for n in needles), str(error.value)


def test_a_split_file_naming_a_missing_video_fails_naming_it(videos, tmp_path):
    (tmp_path / "trainlist01.txt").write_text("action1/PS7A1P1T1.avi 1\naction1/v_Gone_g01_c01.avi 1\n")
    (tmp_path / "testlist01.txt").write_text("action2/PS7A2P2T1.avi\n")
    with pytest.raises(FdslError, match="trainlist01.txt' lists 'action1/v_Gone_g01_c01.avi', which is not a video"):
        official_split(scan_video_folder(videos), tmp_path, 1)


def copy_folder(source: Path, target: Path) -> Path:
    for path in source.rglob("*.avi"):
        (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (target / path.relative_to(source)).write_bytes(path.read_bytes())
    return target


def corrupt(root: Path) -> str:
    (root / "action2" / "PS7A2P2T1.avi").write_bytes(np.random.default_rng(0).bytes(3000))
    return "PS7A2P2T1.avi' cannot be decoded"


def cut_short(root: Path) -> str:
    path = root / "action3" / "PS7A3P1T1.avi"
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.9)])
    return "PS7A3P1T1.avi' decodes to"


def too_short(root: Path) -> str:
    write_video(root / "action1" / "PS7A1P2T1.avi", moving_square(1, 5))
    return "PS7A1P2T1.avi' has 5 frames; a clip spans 7 (4 frames at stride 2)"


def empty_class(root: Path) -> str:
    for path in (root / "action3").iterdir():
        path.unlink()
    (root / "action3" / "notes.txt").write_text("no video here")
    return "class folder"


@pytest.mark.parametrize("spoil", [corrupt, cut_short, too_short, empty_class])
def test_bad_videos_exit_2_in_one_line_naming_the_file_and_write_nothing(videos, tmp_path, run_cli, spoil):
    root = copy_folder(videos, tmp_path / "data")
    needle = spoil(root)
    before = tree_snapshot(tmp_path)
    code, out, err = run_cli("finetune", "--task", "video", "--dataset", root, *TINY_FLAGS, "-o", tmp_path / "run")
    one_line_error(code, err, needle, stdout=out)
    assert tree_snapshot(tmp_path) == before


def test_the_ud810_folder_reads_as_three_folds_of_nine_clips():
    if not UD810.is_dir():
        pytest.skip("../shared/data/ud810-actions is not on this machine")
    files = scan_video_folder(UD810)
    assert files.classes == ["action1", "action2", "action3"] and len(files.paths) == 27
    for person in ("1", "2", "3"):
        train, val = group_split(files, r"P(\d+)", person)
        assert len(train) == 18 and all(f"P{person}T" in files.paths[i].name for i in val) and len(val) == 9
    assert sum(listed_frames(path) for path in files.paths) == 2265  # its README's table


# --- the task ---------------------------------------------------------------------------------------
def test_the_video_task_is_found_by_name_and_family_and_its_presets_resolve():
    task = get_task("video")
    assert task_of_family("vpn") is task and task.kinds == ("video",) and task.metrics == ("top1", "macc")
    for phase in ("pretrain", "finetune"):
        for name, preset in task.presets(phase).items():
            assert resolve(preset(), {}).model.name == "r3d_18", name
    assert resolve(cpu_small_finetune(), {}).augment.span == 57  # UD810's shortest clip has 61 frames
    with pytest.raises(FdslError, match="makes image samples"):
        resolve(cpu_small_pretrain(), {"data": {"family": "perlin", "formula": {}}})


# --- runs (slow) ------------------------------------------------------------------------------------
def tiny_config(tmp_path: Path, phase: str, **sections) -> Path:
    values = {"model": TINY_MODEL, "augment": TINY_CLIP, "train": TINY_TRAIN, **sections}
    if phase == "pretrain":
        values["data"] = {"formula": {"size": 16, "frames": 4}, "categories": 3, "instances": 4, "val_instances": 1}
        values["augment"] = {**TINY_CLIP, "stride": 1, "resize": 16}
    path = tmp_path / f"{phase}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def vpn_run(tmp_path_factory) -> Path:
    from fdsl.cli import main

    work = tmp_path_factory.mktemp("vpn")
    assert main(["pretrain", "--family", "vpn", "--config", str(tiny_config(work, "pretrain")),
                 "-o", str(work / "pre")]) == 0
    return work / "pre"


@pytest.mark.slow
def test_vpn_pretraining_is_the_video_task_s(vpn_run):
    saved = json.loads((vpn_run / "last" / "config.json").read_text())
    assert (saved["fdsl"]["task"], saved["fdsl"]["phase"], saved["fdsl"]["data"]["family"]) == ("video", "pretrain", "vpn")
    assert saved["architecture"] == "r3d_10" and saved["frames"] == 4 and saved["num_classes"] == 3
    assert list(rows(vpn_run)[0])[:5] == ["epoch", "train_loss", "val_loss", "val_top1", "val_macc"]
    assert "pipeline_tag: video-classification" in (vpn_run / "last" / "README.md").read_text()


@pytest.mark.slow
def test_finetune_from_vpn_then_evaluate_gives_what_the_run_recorded(vpn_run, videos, tmp_path, run_cli):
    code, _, err = run_cli("finetune", "--task", "video", "--init", vpn_run, "--dataset", videos, *TINY_FLAGS,
                           "-o", tmp_path / "ft")
    assert code == 0, err
    recorded = rows(tmp_path / "ft")[-1]
    code, out, err = run_cli("evaluate", "--task", "video", tmp_path / "ft" / "last", "--dataset", videos,
                             "--group", r"P(\d+)", "--test-group", "1", "--workers", "0")
    assert code == 0, err
    assert f"top-1 {float(recorded['val_top1']):.2f}% mean class accuracy {float(recorded['val_macc']):.2f}%" in out
    assert "on 3 clips of" in out
    code, _, err = run_cli("evaluate", tmp_path / "ft" / "last", "--dataset", videos)  # classification by default
    assert code == 2 and "holds video weights; pass --task video" in err
    saved = json.loads((tmp_path / "ft" / "last" / "config.json").read_text())
    assert saved["label_names"] == ["action1", "action2", "action3"] and saved["model_args"] == TINY_MODEL["kwargs"]
    start = safetensors.torch.load_file(vpn_run / "last" / "model.safetensors")
    assert start["fc.weight"].shape == (3, 8)  # VPN's 3 categories; the data's 3 classes have new names: new head


@pytest.mark.slow
def test_an_image_run_s_resnet_is_inflated_for_fine_tuning(videos, tmp_path, run_cli):
    code, _, err = run_cli("pretrain", "--family", "perlin", "--model", "resnet18", "--set",
                           "model.kwargs={channels: [4, 8, 8, 8]}", "--size", "32", "--set", "augment.img_size=32",
                           "--categories", "3", "--instances", "6", "--val-instances", "1", "--epochs", "1",
                           "--batch-size", "6", "--workers", "0", "-o", tmp_path / "image")
    assert code == 0, err
    code, _, err = run_cli("finetune", "--task", "video", "--init", tmp_path / "image", "--dataset", videos,
                           *TINY_FLAGS, "-o", tmp_path / "ft")
    assert code == 0, err
    saved = json.loads((tmp_path / "ft" / "last" / "config.json").read_text())
    assert saved["architecture"] == "r3d_18"  # the image run's depth and widths, the config's convolution
    assert saved["model_args"] == {"widths": [4, 8, 8, 8], "stem_width": 64, "stem_pool": True}
    code, _, err = run_cli("finetune", "--task", "video", "--model", "r2plus1d_18", "--init", tmp_path / "image",
                           "--dataset", videos, *TINY_FLAGS, "-o", tmp_path / "r2plus1d")
    one_line_error(code, err, "r2plus1d_18 factors its kernels", "inflates into r3d or mc3")
    assert not (tmp_path / "r2plus1d").exists()


@pytest.mark.slow
def test_finetune_resumed_after_ctrl_c_equals_an_uninterrupted_run(videos, tmp_path, monkeypatch):
    from fdsl.train.run import finetune
    from train_helpers import interrupt_epoch

    def config(seed: int = 0):
        return resolve(cpu_small_finetune(), {"model": TINY_MODEL, "augment": TINY_CLIP,
                                              "train": {**TINY_TRAIN, "epochs": 3, "seed": seed},
                                              "data": {"dataset": str(videos), "test_group": "2"}})

    whole = finetune(config(), tmp_path / "whole")
    interrupt_epoch(monkeypatch, 2, lambda: finetune(config(), tmp_path / "cut"))
    assert len(rows(tmp_path / "cut")) == 1
    resumed = finetune(config(), tmp_path / "cut", resume=True)
    a = safetensors.torch.load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = safetensors.torch.load_file(tmp_path / "cut" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val_top1"] for r in whole.history] == [r["val_top1"] for r in resumed.history]
    finetune(config(seed=1), tmp_path / "other")
    c = safetensors.torch.load_file(tmp_path / "other" / "last" / "model.safetensors")
    assert not torch.equal(a["fc.weight"], c["fc.weight"])  # the comparison above can fail


@pytest.mark.slow
def test_torchrun_fine_tunes_from_vpn_with_two_processes(vpn_run, videos, tmp_path):
    out = tmp_path / "ddp"
    done = torchrun("finetune", "--task", "video", "--init", vpn_run, "--dataset", videos, *TINY_FLAGS,
                    "--batch-size", "2", "-o", out, cwd=tmp_path, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert log.count("batch 2 x 2 process(es)") == 1, log
    history = rows(out)
    assert [row["epoch"] for row in history] == ["1", "2"] and history[-1]["val_top1"] != ""
    # 6 training videos: 2 ranks x 1 step x 2 clips each (drop_last), every validation clip scored once
    assert all(float(row["images_per_s"]) * float(row["epoch_s"]) == pytest.approx(4) for row in history)
    assert json.loads((out / "summary.json").read_text())["task"] == "video"


@pytest.mark.slow
def test_a_study_over_folds_with_an_inflated_image_variant(videos, tmp_path, run_cli):
    """The study runner's folds (one comparison per held-out person, a seed's score the mean of its folds)
    and a variant pre-trained by another task (a 2-D ResNet on Perlin images, inflated into the same
    architecture as the VPN run's); the report plays VPN."""
    model = {"name": "r3d_18", "kwargs": {"widths": [4, 4, 8, 8], "stem_width": 64, "stem_pool": True}}
    study = {
        "task": "video", "seeds": [0], "data": str(videos),
        "finetune": {"preset": "cpu-small", "set": {"model": model, "augment": TINY_CLIP,
                                                     "train": {**TINY_TRAIN, "epochs": 1}}},
        "pretrain": {"preset": "cpu-small", "set": {
            "model": model, "augment": {**TINY_CLIP, "stride": 1, "resize": 16}, "train": {**TINY_TRAIN, "epochs": 1},
            "data": {"formula": {"size": 16, "frames": 4}, "categories": 3, "instances": 3, "val_instances": 1}}},
        "variants": {
            "vpn": {},
            "perlin2d": {"task": "classification", "model.name": "resnet18", "model.kwargs": {"channels": [4, 4, 8, 8]},
                         "data.family": "perlin", "data.formula": {"size": 32}, "augment.img_size": 32,
                         "data.categories": 3, "data.instances": 6, "data.val_instances": 1,
                         "train": {"epochs": 1, "batch_size": 6, "workers": 0}},
        },
        "folds": {"p1": {"data.test_group": "1"}, "p2": {"data.test_group": "2"}},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    code, out, err = run_cli("study", tmp_path / "study.yaml", "-o", tmp_path / "study")
    assert code == 0, err
    assert "| perlin2d " in out and "| scratch " in out and "p1 top-1 (%)" in out and "mean over folds" in out, out
    saved = json.loads((tmp_path / "study" / "study.json").read_text())
    assert set(saved["folds"]) == {"p1", "p2"}
    fold_scores = [saved["folds"][f]["groups"][0]["runs"][0]["score"] for f in ("p1", "p2")]
    assert saved["rows"][0]["scores"] == [pytest.approx(sum(fold_scores) / 2)]
    inflated = json.loads((tmp_path / "study" / "compare" / "p2" / "perlin2d" / "seed0" / "last" / "config.json").read_text())
    assert inflated["model_args"] == {"widths": [4, 4, 8, 8], "stem_width": 64, "stem_pool": True}
    page = (tmp_path / "study" / "report.html").read_text()
    assert "data:image/webp;base64," in page and "fold p2" in page
