"""``fdsl study``: a tiny grid of pre-training variants against scratch, end to end, and its bad input."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_train_cli import fdsl, one_line_error  # noqa: F401  (fixture)
from train_helpers import TINY_FINETUNE, TINY_PRETRAIN, make_image_folder, write_yaml

from fdsl.experiments.results import Group, RunScore, study_rows
from fdsl.experiments.study import parse_study

TINY_STUDY = {
    "seeds": [0, 1],
    "finetune": {"preset": "cpu-small", "set": {**TINY_FINETUNE, "train.epochs": 1}},
    "pretrain": {"preset": "cpu-small", "set": {**TINY_PRETRAIN, "train.epochs": 1}},
    "variants": {
        "fractaldb": {},
        "perlin": {"data.family": "perlin", "data.formula": {"size": 32}, "data.categories": 3},
    },
}


@pytest.mark.slow  # trains a model
def test_study_runs_a_grid_end_to_end(fdsl, tmp_path):  # noqa: F811
    images = make_image_folder(tmp_path / "images")
    claims = {"paper": "fractaldb > perlin > scratch"}
    study = write_yaml(tmp_path / "study.yaml", {**TINY_STUDY, "data": str(images), "claims": claims})
    code, out, err = fdsl("study", study, "-o", tmp_path / "s")
    assert code == 0, err
    tables = [[line.split("|")[1:3] for line in block.splitlines() if line.startswith("| ")]
              for block in out.split("\n\n")]
    tables = [table for table in tables if table]
    assert [cells[0].strip() for cells in tables[0]] == ["init", "scratch", "fractaldb", "perlin"]
    assert "gap (std)" in out and "2 seeds" in out
    # the ranking: the three arms by mean, best first; the claim checked
    ranking = json.loads((tmp_path / "s" / "study.json").read_text())["rows"]
    by_mean = [r["init"] for r in sorted(ranking, key=lambda r: -r["mean"])]
    assert [cells[1].strip() for cells in tables[1][1:]] == by_mean
    assert [cells[0].strip() for cells in tables[2]] == ["source", "paper", "paper"]  # two steps of one order
    assert "fractaldb > perlin" in out and (tmp_path / "s" / "ranking.png").is_file()
    assert set(json.loads((tmp_path / "s" / "render-cost.json").read_text())) == {"fractaldb", "perlin"}
    page = (tmp_path / "s" / "report.html").read_text()
    assert "<h2>Ranking</h2>" in page and "fractaldb &gt; perlin" in page and page.count("<h2>Ranking</h2>") == 1
    report = json.loads((tmp_path / "s" / "study.json").read_text())
    assert [r["init"] for r in report["rows"]] == ["scratch", "fractaldb", "perlin"]
    assert all(len(r["scores"]) == 2 for r in report["rows"])
    assert "family: perlin" in (tmp_path / "s" / "pretrain" / "perlin" / "config.yaml").read_text()
    assert (tmp_path / "s" / "pretrain" / "perlin" / "last" / "model.safetensors").is_file()
    for name in ("study.png", "study.md", "ranking.md", "compare/curves.png", "report.html"):
        assert (tmp_path / "s" / name).is_file()
    # a rerun reuses every finished run and reports the same table
    code, again, _ = fdsl("study", study, "-o", tmp_path / "s")
    assert code == 0 and again == out


@pytest.mark.slow  # trains a model
def test_parallel_jobs_give_the_same_runs(fdsl, tmp_path):  # noqa: F811
    images = make_image_folder(tmp_path / "images")
    study = {**TINY_STUDY, "data": str(images), "seeds": [0], "variants": {"fractaldb": {}}}
    code, serial, err = fdsl("study", write_yaml(tmp_path / "serial.yaml", study), "-o", tmp_path / "serial")
    assert code == 0, err
    code, parallel, err = fdsl("study", write_yaml(tmp_path / "parallel.yaml", {**study, "jobs": 2}),
                               "-o", tmp_path / "parallel")
    assert code == 0, err
    def first_table(out):  # the ranking after it times the renders in each study folder
        return [line for line in out.split("\n\n")[0].splitlines() if "fractaldb" in line]

    assert first_table(serial) and first_table(serial) == first_table(parallel)
    assert _scores(tmp_path / "serial") == _scores(tmp_path / "parallel")
    assert (tmp_path / "parallel" / "compare" / "scratch" / "seed0" / "log.txt").is_file()


def _scores(out):
    rows = json.loads((out / "study.json").read_text())["rows"]
    return [(r["init"], r["scores"], r.get("held_out")) for r in rows]


def test_a_failing_parallel_run_stops_the_study_with_its_error(tmp_path):
    from fdsl.errors import FdslError
    from fdsl.train.run import finetune
    from fdsl.experiments.jobs import Run, run_parallel
    from train_helpers import tiny_finetune

    bad = tiny_finetune(tmp_path / "images", {"train": {"batch_size": 1000}})
    make_image_folder(tmp_path / "images")
    runs = [Run(finetune, bad, tmp_path / name) for name in "abc"]
    with pytest.raises(FdslError, match=r"run '.*' failed: batch size 1000 is larger than the \d+ training images"):
        run_parallel(runs, jobs=2)
    assert not (tmp_path / "c").exists()  # nothing new starts after a failure


def test_a_bad_finetuning_dataset_fails_before_any_pretraining(fdsl, tmp_path):  # noqa: F811
    (tmp_path / "empty" / "a").mkdir(parents=True)
    study = write_yaml(tmp_path / "study.yaml", {**TINY_STUDY, "jobs": 2, "data": str(tmp_path / "empty")})
    code, _, err = fdsl("study", study, "-o", tmp_path / "s")
    one_line_error(code, err, "no images")
    assert not (tmp_path / "s").exists()


def test_jobs_flag_overrides_the_studys_jobs(fdsl, tmp_path):  # noqa: F811
    study = write_yaml(tmp_path / "study.yaml", TINY_STUDY)
    code, out, err = fdsl("study", study, "-o", tmp_path / "s", "--jobs", "2", "--print-config")
    assert code == 0, err
    assert "# pre-training: fractaldb" in out
    code, _, err = fdsl("study", study, "-o", tmp_path / "s", "--jobs", "0")
    one_line_error(code, err, "--jobs 0; allowed: >= 1")
    assert not (tmp_path / "s").exists()


def test_variant_overrides_reach_the_resolved_configs(fdsl, tmp_path):  # noqa: F811
    study = write_yaml(tmp_path / "study.yaml", TINY_STUDY)
    code, out, err = fdsl("study", study, "-o", tmp_path / "s", "--print-config")
    assert code == 0, err
    sections = out.split("# ")
    perlin = next(s for s in sections if s.startswith("pre-training: perlin"))
    fractal = next(s for s in sections if s.startswith("pre-training: fractaldb"))
    assert "family: perlin" in perlin and "family: fractaldb" in fractal
    assert "epochs: 1" in perlin and "embed_dim: 32" in perlin


def test_gap_in_standard_deviations():
    def group(init, scores):
        return Group(init, None, [RunScore(seed, top1, 90.0, top1, [top1], [1.0]) for seed, top1 in enumerate(scores)])

    scratch, a = study_rows([group("scratch", [30.0, 32.0]), group("a", [35.0, 37.0])], {})
    assert scratch.gap is None and "gap" not in scratch.to_json()
    assert a.gap == pytest.approx(5.0) and a.to_json()["gap"] == a.gap
    assert a.gap_std == pytest.approx(5.0 / math.sqrt(2.0))


def test_samples_seen_count_what_each_epoch_shows():
    from fdsl.data.config import FormulaDataConfig
    from fdsl.experiments.study import samples_seen

    epochs = [{"images_per_s": 100.0, "epoch_s": 10.0}] * 3
    assert samples_seen(FormulaDataConfig(categories=100, instances=100), epochs) == 30_000
    # 3D-OFDB: one of 12 views per category per pass, 100 passes
    ofdb3d = FormulaDataConfig(family="ofdb3d", categories=100, instances=12, instances_per_epoch=1, repeats=100)
    assert samples_seen(ofdb3d, epochs) == 30_000
    assert samples_seen(FormulaDataConfig(data_dir="folder"), epochs) == 3_000  # what the epochs timed


def test_claims_are_checked_against_the_noise():
    from fdsl.experiments.ranking import Claim, parse_claims, verdict

    claims = parse_claims({"p": "a > b = c > scratch"}, ["scratch", "a", "b", "c"])
    assert claims == [Claim("p", "a", ">", "b"), Claim("p", "b", "=", "c"), Claim("p", "c", ">", "scratch")]
    scores = {"a": [40.0, 41.0, 42.0], "b": [35.0, 36.0, 37.0], "c": [35.5, 36.5, 37.5], "scratch": [36.0, 37.0, 38.0]}
    assert verdict(claims[0], scores) == (pytest.approx(5.0), pytest.approx(5.0), "holds")
    assert verdict(claims[1], scores)[2] == "holds (inside the noise)"
    assert verdict(claims[2], scores)[2] == "inside the noise (opposite sign)"
    assert verdict(Claim("p", "scratch", ">", "a"), scores)[2] == "reversed"
    assert verdict(Claim("p", "a", "=", "b"), scores)[2] == "does not hold"


@pytest.mark.parametrize("values, pattern", [
    ({"variants": {}}, "at least one variant"),
    ({"variants": {"scratch": {}}}, "variant name 'scratch'"),
    ({"variants": {"a": {}}, "seeds": []}, "seeds = []"),
    ({"variants": {"a": {}}, "sedes": [1]}, "unknown key(s) ['sedes']"),
    ({"variants": {"a": {}}, "finetune": {"preset": "x", "sett": {}}}, "unknown key(s) ['sett'] in finetune"),
    ({"variants": {"a": {}}, "claims": {"IJCV": "a > perlin"}}, "claims['IJCV'] names 'perlin'; valid: scratch, a"),
    ({"variants": {"a": {}}, "claims": {"IJCV": "a, scratch"}}, "expected an order such as"),
])
def test_malformed_studies(values, pattern):
    from fdsl.errors import FdslError

    with pytest.raises(FdslError) as caught:
        parse_study(values)
    assert pattern in str(caught.value)


def test_bad_study_input_is_one_line(fdsl, tmp_path):  # noqa: F811
    code, _, err = fdsl("study", tmp_path / "missing.yaml", "-o", tmp_path / "s")
    one_line_error(code, err, "missing.yaml")
    study = write_yaml(tmp_path / "study.yaml", {**TINY_STUDY, "variants": {"a": {"data.family": "nope"}}})
    code, _, err = fdsl("study", study, "-o", tmp_path / "s")
    one_line_error(code, err, "unknown formula family 'nope'")
    study = write_yaml(tmp_path / "study.yaml", {**TINY_STUDY, "finetune": {"preset": "huge"}})
    code, _, err = fdsl("study", study, "-o", tmp_path / "s")
    one_line_error(code, err, "unknown classification fine-tuning preset 'huge'")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_studies_resolve(path):
    from fdsl.experiments.study import finetune_config, load_study, pretrain_configs

    study = load_study(path)
    configs = pretrain_configs(study)
    assert len(configs) == len(study.variants) >= 1 and len(study.seeds) >= 3
    if study.task == "classification":  # scored on a fixed number of held-out images per class
        assert finetune_config(study).data.val_per_class
    data = finetune_config(study).data
    assert data.describe().startswith(str(data.dataset))  # the line under study.md's table
