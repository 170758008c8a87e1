"""``fdsl pretrain / finetune / evaluate / compare / models``: the commands end to end, and every bad
input the training commands name ends with one line on stderr and exit status 2."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import TINY_FINETUNE, TINY_PRETRAIN, make_image_folder, one_line_error, tiny_finetune, tiny_pretrain, write_yaml

from fdsl.cli import main

SHARED_CIFAR10 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10" / "train"


@pytest.fixture
def fdsl(capsys):
    """Run ``fdsl ARGV`` in this process: (exit status, stdout, stderr)."""

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Config files for tiny runs and a small ImageFolder."""
    root = tmp_path_factory.mktemp("cli")
    pre_yaml = write_yaml(root / "pre.yaml", TINY_PRETRAIN)
    ft_yaml = write_yaml(root / "ft.yaml", TINY_FINETUNE)
    images = make_image_folder(root / "images")
    return {"root": root, "pre_yaml": pre_yaml, "ft_yaml": ft_yaml, "images": images}


@pytest.fixture(scope="module")
def pretrained(setup):
    """A tiny pre-trained run folder (its tests are slow: they train)."""
    assert main(["pretrain", "--config", str(setup["pre_yaml"]), "-o", str(setup["root"] / "pre")]) == 0
    return setup["root"] / "pre"


@pytest.mark.slow  # trains a model
def test_pretrain_finetune_evaluate(fdsl, setup, tmp_path, pretrained):
    code, out, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", setup["images"],
                          "--init", pretrained, "--new-head", "-o", tmp_path / "ft")
    assert code == 0, err
    assert "fine-tuned for 2 epochs: final top-1" in out
    assert "epoch 2/2" in err  # progress is logged on stderr
    code, out, err = fdsl("evaluate", tmp_path / "ft" / "best", "--dataset", setup["images"], "--holdout", "0.25",
                          "--workers", "0")
    assert code == 0, err
    best = json.loads((tmp_path / "ft" / "summary.json").read_text())["best"]["val_top1"]
    assert f"top-1 {best:.2f}%" in out and "on 6 images" in out


@pytest.mark.slow  # trains a model
def test_resume_continues_a_run(fdsl, setup, tmp_path):
    args = ("pretrain", "--config", setup["pre_yaml"], "--epochs", "1", "-o", tmp_path / "run")
    assert fdsl(*args)[0] == 0
    one_line_error(*fdsl(*args)[::2], "already holds a run; pass --resume")
    code, out, err = fdsl(*args, "--resume")
    assert code == 0 and "pre-trained vit_tiny_patch16_224 for 1 epochs" in out


@pytest.mark.slow  # trains a model
def test_compare_prints_a_table_and_draws_curves(fdsl, setup, tmp_path, pretrained):
    code, out, err = fdsl("compare", "--config", setup["ft_yaml"], "--dataset", setup["images"], "--epochs", "1",
                          "--checkpoint", pretrained / "last", "--label", "fractal", "--seeds", "0", "1",
                          "-o", tmp_path / "cmp")
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table[0].split("|")[1].strip() == "init" and len(table) == 4
    assert table[2].split("|")[1].strip() == "scratch" and table[3].split("|")[1].strip() == "fractal"
    assert all(row.split("|")[2].strip() == "2" for row in table[2:])  # two seeds each
    for name in ("results.json", "results.md", "curves.png"):
        assert (tmp_path / "cmp" / name).is_file()
    assert {p.name for p in (tmp_path / "cmp" / "fractal").iterdir()} == {"seed0", "seed1"}
    assert (tmp_path / "cmp" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not SHARED_CIFAR10.is_dir(), reason="the shared CIFAR-10 copy is not here")
@pytest.mark.slow  # trains a model
def test_finetune_on_a_subset_of_the_shared_cifar10(fdsl, setup, tmp_path, pretrained):
    code, out, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", SHARED_CIFAR10, "--epochs", "1",
                          "--train-per-class", "2", "--val-per-class", "2", "--holdout", "0.1",
                          "--init", pretrained / "last", "--new-head", "-o", tmp_path / "cifar")
    assert code == 0, err
    weights = json.loads((tmp_path / "cifar" / "last" / "config.json").read_text())
    assert weights["label_names"][:2] == ["airplane", "automobile"] and weights["num_classes"] == 10
    assert "20 validation" in err  # 2 held-out images x 10 classes


def test_print_config_applies_preset_yaml_set_and_flags(fdsl, setup):
    code, out, _ = fdsl("pretrain", "--preset", "fractaldb-deit-tiny", "--set", "optim.warmup_epochs=3",
                        "--epochs", "7", "-o", "unused", "--print-config")
    assert code == 0
    assert "name: deit_tiny_patch16_224" in out and "epochs: 7" in out and "warmup_epochs: 3" in out
    assert "auto_augment: rand-m9-mstd0.5-inc1" in out


def test_model_flag_drops_the_presets_model_options(fdsl):
    code, out, _ = fdsl("pretrain", "--model", "resnet10t", "-o", "unused", "--print-config")
    assert code == 0 and "name: resnet10t" in out and "kwargs: {}" in out
    code, out, _ = fdsl("pretrain", "--model", "resnet10t", "--set", "model.kwargs={stem_width: 16}", "-o", "unused",
                        "--print-config")
    assert code == 0 and "stem_width: 16" in out


def test_models_lists_valid_names(fdsl):
    code, out, _ = fdsl("models", "deit_tiny*")
    assert code == 0 and "deit_tiny_patch16_224" in out.split()


@pytest.mark.slow  # trains (the demo's runs are subprocesses)
def test_demo_runs_the_whole_story_on_a_tiny_recipe(fdsl, setup, tmp_path, monkeypatch):
    from fdsl.experiments import demo
    from fdsl.tasks.classification import presets

    monkeypatch.setitem(presets.PRETRAIN_PRESETS, "tiny", tiny_pretrain)
    monkeypatch.setitem(presets.FINETUNE_PRESETS, "tiny", lambda: tiny_finetune(setup["images"]))
    monkeypatch.setattr(demo, "DEMO", presets.DemoRecipe(pretrain="tiny", finetune="tiny", train_per_class=4,
                                                             seeds=(0, 1), processes=2, jobs=2))
    code, out, err = fdsl("demo", "-o", tmp_path / "demo", "--data", setup["images"])
    assert code == 0, err
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows == ["init", "scratch", "fractaldb"]
    assert "wall time:" in out and "held-out top-1" in out and "fractaldb - scratch: " in out
    for path in ("gallery.png", "pretrain/last/model.safetensors", "compare/curves.png", "compare/results.md",
                 "report.html"):
        assert (tmp_path / "demo" / path).is_file()
    assert f"report: {tmp_path / 'demo' / 'report.html'}" in out
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "<table" in page and "mean attention distance" in page.lower()  # the table and the analysis
    # a second run resumes everything and prints the same table
    code, again, _ = fdsl("demo", "-o", tmp_path / "demo", "--data", setup["images"])
    assert code == 0 and [l for l in again.splitlines() if l.startswith("|")] == \
        [l for l in out.splitlines() if l.startswith("|")]


# --- bad input: one line, exit status 2 -----------------------------------------------------------
def test_unknown_model_lists_close_valid_names(fdsl, setup, tmp_path):
    code, _, err = fdsl("pretrain", "--config", setup["pre_yaml"], "--model", "resnet5", "-o", tmp_path / "x")
    one_line_error(code, err, "unknown model 'resnet5'; close valid names: resnet50")
    assert "`fdsl models`" in err
    assert not (tmp_path / "x").exists()


def test_unknown_pretrained_tag_lists_the_valid_ones(fdsl, setup, tmp_path):
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", setup["images"], "--init", "timm",
                        "--model", "resnet10t.bad_tag", "--new-head", "-o", tmp_path / "x")
    one_line_error(code, err, "unknown pretrained tag 'bad_tag' of resnet10t; valid: c3_in1k")


def test_unknown_dataset_lists_the_valid_ones(fdsl, setup, tmp_path):
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", "imagenet", "-o", tmp_path / "x")
    one_line_error(code, err, "unknown dataset 'imagenet'; valid: cifar10, cifar100, or a path to an ImageFolder")


def test_unknown_preset_and_config_key(fdsl, tmp_path):
    code, _, err = fdsl("pretrain", "--preset", "imagenet", "-o", tmp_path / "x")
    one_line_error(code, err, "unknown classification pre-training preset 'imagenet'; valid: fractaldb-resnet50")
    code, _, err = fdsl("pretrain", "--set", "optim.lrr=1", "-o", tmp_path / "x")
    one_line_error(code, err, "unknown config key 'optim.lrr'")



def test_a_family_of_another_sample_kind_is_refused_before_a_run_folder(fdsl, tmp_path):
    # scenes have no training task yet (point clouds go to the points task: tests/test_points_training.py)
    code, _, err = fdsl("pretrain", "--family", "pcfractaldb-scenes", "-o", tmp_path / "x")
    one_line_error(code, err, "data.family 'pcfractaldb-scenes' makes scene samples; image pre-training takes one of:")
    assert not (tmp_path / "x").exists()

@pytest.mark.parametrize("make, pattern", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: (root / "bad.safetensors").write_bytes(b"not a safetensors file at all") and root / "bad.safetensors",
     "is corrupt or not a safetensors file"),
    (lambda root: (root / "model.pth").write_bytes(b"\x80\x04pickle") and root / "model.pth",
     "never loads weights through pickle"),
    (lambda root: (root / "empty").mkdir() or root / "empty", "holds no model.safetensors"),
])
def test_missing_or_corrupt_checkpoint(fdsl, setup, tmp_path, make, pattern):
    checkpoint = make(tmp_path)
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", setup["images"],
                        "--init", checkpoint, "--new-head", "-o", tmp_path / "x")
    one_line_error(code, err, pattern)
    one_line_error(*fdsl("evaluate", checkpoint, "--dataset", setup["images"])[::2], pattern)


@pytest.mark.slow  # trains a model
def test_truncated_checkpoint_is_corrupt(fdsl, setup, tmp_path, pretrained):
    data = (pretrained / "last" / "model.safetensors").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "model.safetensors").write_bytes(data[: len(data) // 2])
    code, _, err = fdsl("evaluate", tmp_path / "cut", "--dataset", setup["images"])
    one_line_error(code, err, "is corrupt or not a safetensors file")


@pytest.mark.slow  # trains a model
def test_classes_that_do_not_match_need_new_head(fdsl, setup, tmp_path, pretrained):
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", setup["images"],
                        "--init", pretrained, "-o", tmp_path / "x")
    one_line_error(code, err, "was trained on 3 classes (00000, 00001, 00002) but the dataset has 3 "
                              "(class0, class1, class2); pass --new-head")
    code, _, err = fdsl("evaluate", pretrained / "last", "--dataset", setup["images"])
    one_line_error(code, err, "or fine-tune them on this one first (fdsl finetune --init CHECKPOINT --new-head)")


def test_image_folder_without_images(fdsl, setup, tmp_path):
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", tmp_path / "empty",
                        "-o", tmp_path / "x")
    one_line_error(code, err, "holds no images")
    assert not (tmp_path / "x").exists()  # no half-made run: the same --out works once the data is fixed


def test_batch_size_larger_than_the_dataset(fdsl, setup, tmp_path):
    code, _, err = fdsl("finetune", "--config", setup["ft_yaml"], "--dataset", setup["images"],
                        "--batch-size", "100", "-o", tmp_path / "x")
    one_line_error(code, err, "batch size 100 is larger than the 18 training images")
    code, _, err = fdsl("pretrain", "--config", setup["pre_yaml"], "--batch-size", "25", "-o", tmp_path / "y")
    one_line_error(code, err, "batch size 25 is larger than the 24 training images")
