"""fdsl analyze and fdsl report on a tiny real comparison (a 2-block ViT pre-trained on FractalDB,
fine-tuned from scratch and from it over two seeds), the measures on known attention, bad input,
and the report opened in headless Chromium (every image loads, no console message, screenshots)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from train_helpers import TINY_VIT, make_image_folder, tiny_finetune, tiny_pretrain

from fdsl.analysis import measures
from fdsl.report import write_report
from fdsl.experiments.compare import compare
from fdsl.train.run import pretrain

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Appended to a copy of the page: once loaded, write every image's natural size into the DOM.
SIZE_PROBE = ('<script>window.addEventListener("load", () => document.body.insertAdjacentHTML("beforeend", '
              '"<pre id=\\"image-sizes\\">" + Array.from(document.images).map(i => i.naturalWidth + "x" + '
              'i.naturalHeight).join(" ") + "</pre>"));</script>')


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """compare's folder of a tiny real run; the images sit in a folder named cifar10 (the papers' dataset)."""
    root = tmp_path_factory.mktemp("report")
    images = make_image_folder(root / "cifar10" / "train")
    pretrain(tiny_pretrain({"model": {"kwargs": {**TINY_VIT, "depth": 2}}}), root / "pre")
    compare(tiny_finetune(images), [str(root / "pre" / "last")], seeds=[0, 1], out=root / "cmp", labels=["fractaldb"])
    return root


@pytest.fixture(scope="module")
def report(comparison):
    out = comparison / "html" / "report.html"
    assert write_report(comparison / "cmp", out, analyze_models=True, real_images=comparison / "cifar10" / "train") \
        == "comparison"
    return out


@pytest.mark.slow  # trains a model
def test_report_holds_tables_figures_and_the_papers_numbers(report):
    text = report.read_text()
    assert "gap (std)" in text and "fractaldb" in text and "scratch" in text
    assert "numbers, not ours" in text and "93.4" in text  # ResNet-50 FractalDB-1k on CIFAR-10
    assert text.count("<img ") >= 9 and "http://" not in text and "https://" not in text  # offline: no CDN
    for name in ("filters.png", "position_embedding.png", "attention_formula.png", "attention_real.png"):
        assert (report.parent / "report_files" / "analysis" / name).is_file()
    analysis = json.loads((report.parent / "report_files" / "analysis" / "analysis.json").read_text())
    distances = np.array(analysis["mean_attention_distance_px"]["real"]["fractaldb pre-trained"])
    assert distances.shape == (2, 2) and np.all(distances > 0)  # 2 blocks x 2 heads


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (CI installs Debian's chromium package in .ci/run)")
@pytest.mark.slow  # trains a model
def test_report_in_headless_chromium(report, tmp_path):
    def chromium(*args: str) -> subprocess.CompletedProcess:
        command = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    probe = report.with_name("probe.html")
    probe.write_text(report.read_text().replace("</body>", SIZE_PROBE + "</body>"))
    shown = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", probe.as_uri())
    sizes = re.search(r'<pre id="image-sizes">([^<]*)</pre>', shown.stdout)
    assert sizes, shown.stderr[-2000:]
    pairs = [tuple(map(int, size.split("x"))) for size in sizes.group(1).split()]
    assert len(pairs) == report.read_text().count("<img ") and all(w > 0 and h > 0 for w, h in pairs)
    assert "CONSOLE" not in shown.stderr, [line for line in shown.stderr.splitlines() if "CONSOLE" in line]
    for name, size in (("phone", "390,2400"), ("desktop", "1280,2400")):
        shot = report.with_name(f"screenshot-{name}.png")
        chromium(f"--screenshot={shot}", f"--window-size={size}", report.as_uri())
        assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.slow  # trains a model
def test_analyze_cli_and_its_bad_input(run_cli, comparison, tmp_path):
    code, out, err = run_cli("analyze", comparison / "pre", comparison / "cmp" / "scratch" / "seed0",
                             "--label", "fractaldb", "--label", "scratch", "-o", tmp_path / "a", "--count", "2")
    assert code == 0, err
    assert (tmp_path / "a" / "attention_distance_formula.png").is_file()
    code, _, err = run_cli("analyze", comparison / "cifar10", "-o", tmp_path / "b")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cifar10" in err
    code, _, err = run_cli("analyze", comparison / "pre", "-o", tmp_path / "c", "--images", tmp_path / "missing")
    assert code == 2 and "is not a folder" in err


@pytest.mark.slow  # trains a model
def test_report_cli_and_its_bad_input(run_cli, comparison, tmp_path):
    code, out, err = run_cli("report", comparison / "pre", "-o", tmp_path / "run.html")
    assert code == 0, err
    assert "a report of the run" in out and "<img " in (tmp_path / "run.html").read_text()
    code, _, err = run_cli("report", comparison / "cifar10", "-o", tmp_path / "x.html")
    assert code == 2 and "is neither a run folder" in err


@pytest.mark.slow  # trains a model
def test_cnn_gets_filters_only(comparison, tmp_path):
    from fdsl.analysis.analyze import analyze

    pretrain(tiny_pretrain({"model": {"name": "resnet10t", "kwargs": {}}, "train": {"epochs": 1}}), tmp_path / "cnn")
    report = analyze([str(tmp_path / "cnn")], tmp_path / "out")
    assert report["figures"] == ["filters.png", "filters_grey.png"]
    assert any("no ViT self-attention" in line for line in report["not_applicable"])


def test_measures_on_known_attention():
    grid, prefix = (2, 2), 1
    uniform = torch.full((1, 1, 1, 5, 5), 0.2)  # (layers, B, heads, tokens, tokens)
    assert torch.allclose(measures.cls_attention(uniform, prefix, grid), torch.full((1, 2, 2), 0.25))
    assert torch.allclose(measures.attention_rollout(uniform, prefix, grid), torch.full((1, 2, 2), 0.25))
    # uniform over 4 patches of a 2x2 grid, 10 px apart: 0 (self), 10, 10, 10*sqrt(2) -> mean 8.54
    expected = (0 + 10 + 10 + 10 * 2 ** 0.5) / 4
    assert np.allclose(measures.mean_attention_distance(uniform, prefix, grid, 10), expected)
    to_self = torch.eye(5).reshape(1, 1, 1, 5, 5)  # every token attends to itself only: distance 0
    assert np.allclose(measures.mean_attention_distance(to_self, prefix, grid, 10), 0.0)


def test_a_relative_checkpoint_is_found_from_another_directory(tmp_path, monkeypatch):
    """`fdsl demo` records its checkpoint relative to where it ran (fdsl-demo/pretrain/last); a report
    written from elsewhere still finds the pre-training run."""
    from fdsl.report import run_of_checkpoint

    run = tmp_path / "fdsl-demo" / "pretrain"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: {}\n")
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_of_checkpoint("fdsl-demo/pretrain/last", tmp_path / "fdsl-demo" / "compare") == run
    assert run_of_checkpoint("fdsl-demo/missing/last", tmp_path / "fdsl-demo" / "compare") is None
    assert run_of_checkpoint(None, tmp_path) is None
