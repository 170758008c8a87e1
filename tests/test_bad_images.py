"""A file of a user's ImageFolder that is not a readable image: `fdsl finetune` ends with one line
naming it (also when a DataLoader worker process hits it), or skips it with a warning on request."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from test_train_cli import fdsl  # noqa: F401  (fixture)
from train_helpers import TINY_FINETUNE, make_image_folder, write_yaml

from fdsl.data.config import RealDataConfig
from fdsl.data.datasets import load_rgb, real_datasets
from fdsl.errors import FdslError


@pytest.fixture
def folder_with_bad_files(tmp_path):
    """The tiny ImageFolder plus text named ``.jpg`` and a truncated PNG, both in the training split."""
    images = make_image_folder(tmp_path / "images")
    (images / "class0" / "000_text.jpg").write_text("not an image\n")
    png = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(png, format="PNG")
    (images / "class1" / "000_cut.png").write_bytes(png.getvalue()[:60])
    return images


def test_loader_names_the_file_it_cannot_read(folder_with_bad_files):
    for name in ("class0/000_text.jpg", "class1/000_cut.png"):
        path = str(folder_with_bad_files / name)
        with pytest.raises(FdslError, match=f"image file '{path}' cannot be read"):
            load_rgb(path)
    image = load_rgb(str(folder_with_bad_files / "class2" / "000.png"))
    assert image.mode == "RGB" and image.size == (32, 32)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_finetune_stops_in_one_line_naming_the_file(fdsl, folder_with_bad_files, tmp_path, workers):  # noqa: F811
    config = write_yaml(tmp_path / "ft.yaml", TINY_FINETUNE)
    code, _, err = fdsl("finetune", "--config", config, "--dataset", folder_with_bad_files, "--epochs", "1",
                        "--workers", workers, "-o", tmp_path / "run")
    last = err.strip().splitlines()[-1]  # after the run's progress lines
    assert code == 2 and last.startswith("fdsl: error: image file '") and "cannot be read" in last, err
    assert "000_text.jpg' cannot" in last or "000_cut.png' cannot" in last
    assert "Traceback" not in err and "DataLoader worker" not in err


@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.slow  # trains a model
def test_skip_bad_images_leaves_them_out_with_a_warning(fdsl, folder_with_bad_files, tmp_path, workers):  # noqa: F811
    config = write_yaml(tmp_path / "ft.yaml", TINY_FINETUNE)
    code, out, err = fdsl("finetune", "--config", config, "--dataset", folder_with_bad_files, "--epochs", "1",
                          "--workers", workers, "--set", "data.skip_bad_images=true", "-o", tmp_path / "run")
    assert code == 0, err
    assert "skipped 2 unreadable image file(s)" in err and "000_text.jpg" in err and "000_cut.png" in err
    assert "fine-tuned for 1 epochs" in out


def test_skipping_keeps_every_readable_image_and_its_label(folder_with_bad_files):
    data = RealDataConfig(dataset=str(folder_with_bad_files), holdout=0.0, skip_bad_images=True)
    train, _, classes = real_datasets(data)
    assert classes == ["class0", "class1", "class2"] and len(train) == 3 * 8
    assert train.targets == [0] * 8 + [1] * 8 + [2] * 8
