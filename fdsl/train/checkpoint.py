"""Run folders, weights and training state. Nothing here unpickles an untrusted object.

A run folder::

    config.yaml          the resolved config (YAML)
    run.json             the run's task and phase
    metrics.csv          one row per epoch; tb/ holds the same scalars for TensorBoard
    last/, best/         weights: model.safetensors, the task's config.json (what rebuilds the model,
                         and under ``fdsl`` the run's task, phase, config, epoch and metrics) and a
                         model card README.md (a weights folder uploads to a model hub as it is)
    state.pt             everything needed to resume (tensors and numbers only)
    summary.json         final and best metrics

Classification's config.json is timm's, so its ``last/`` and ``best/`` load in plain timm
(``timm.create_model("local-dir:runs/x/last", pretrained=True)``); each task's card says how to load its own.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fdsl.errors import FdslError, check
from fdsl.experiments.jobs import LOG_FILE
from fdsl.atomic import atomic_path, write_bytes_atomic, write_text_atomic
from fdsl.configs import complete, dump_yaml, from_dict, load_yaml, merged, to_dict
from fdsl.outputs import check_output, input_folders
from fdsl.train.distributed import barrier, is_primary

WEIGHTS_FILE = "model.safetensors"
MODEL_CONFIG_FILE = "config.json"
RUN_CONFIG_FILE = "config.yaml"
RUN_RECORD_FILE = "run.json"
STATE_FILE = "state.pt"
SUMMARY_FILE = "summary.json"
CARD_FILE = "README.md"
METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tb"
#: Everything a run writes in its folder (a child run of ``compare --jobs N`` its log too).
RUN_ENTRIES = (RUN_CONFIG_FILE, RUN_RECORD_FILE, METRICS_FILE, TENSORBOARD_DIR, "last", "best", STATE_FILE, SUMMARY_FILE, LOG_FILE)


# --- weights ----------------------------------------------------------------------------------------
def save_weights(task, model: nn.Module, directory: Path, *, label_names: list[str], config,
                 meta: dict[str, Any]) -> None:
    """``model.safetensors``, the task's ``config.json`` (what rebuilds the model and its input, and
    ``meta``: task, phase, the run's resolved config, epoch and metrics, under ``fdsl``) and its model
    card ``README.md`` in ``directory``, each written atomically."""
    write_tensors(directory, model)
    with atomic_path(directory / MODEL_CONFIG_FILE) as tmp:
        task.write_weights_config(model, tmp, config=config, label_names=label_names, meta=meta)
    weights_config = json.loads((directory / MODEL_CONFIG_FILE).read_text())
    card = task.model_card(weights_config, directory, parameters=sum(p.numel() for p in model.parameters()))
    write_text_atomic(directory / CARD_FILE, card)


def write_tensors(directory: Path, model: nn.Module) -> None:
    """``directory/model.safetensors`` (the folder made if needed), atomically. The bytes are
    written by Python, so a full disk is an OSError like any other failed write (safetensors' own
    writer raises its SafetensorError instead)."""
    import safetensors.torch

    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(directory / WEIGHTS_FILE, safetensors.torch.save(tensors, metadata={"format": "pt"}))


@dataclasses.dataclass
class Weights:
    """Weights read from disk: the tensors, timm's config.json beside them (None when absent)."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] | None
    path: Path

    @property
    def label_names(self) -> list[str] | None:
        return None if self.config is None else self.config.get("label_names")

    @property
    def num_classes(self) -> int | None:
        return None if self.config is None else self.config.get("num_classes")


def weights_file(path: str | Path) -> Path:
    """The ``.safetensors`` file of a run folder (its ``last/``), a weights folder or a file path."""
    path = Path(path)
    check(path.exists(), f"checkpoint {str(path)!r} does not exist")
    if path.is_dir():
        for candidate in (path / WEIGHTS_FILE, path / "last" / WEIGHTS_FILE):
            if candidate.is_file():
                return candidate
        raise FdslError(f"checkpoint folder {str(path)!r} holds no {WEIGHTS_FILE} (nor last/{WEIGHTS_FILE})")
    check(path.suffix == ".safetensors",
          f"checkpoint {str(path)!r} is not a .safetensors file; fdsl never loads weights through pickle "
          "(convert trusted .pth files with safetensors.torch.save_file)")
    return path


def load_weights(path: str | Path) -> Weights:
    """Read weights (safetensors only) and their config.json; a bad file ends in one FdslError."""
    import safetensors.torch

    file = weights_file(path)
    try:
        state_dict = safetensors.torch.load_file(str(file), device="cpu")
    except Exception as error:  # safetensors raises its own error types for truncated or foreign files
        raise FdslError(f"checkpoint {str(file)!r} is corrupt or not a safetensors file ({error})") from None
    config_path = file.parent / MODEL_CONFIG_FILE
    config = None
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text())
        except ValueError as error:
            raise FdslError(f"checkpoint config {str(config_path)!r} is not valid JSON ({error})") from None
        check(isinstance(config, dict) and "architecture" in config,
              f"checkpoint config {str(config_path)!r} has no 'architecture'; is it timm's config.json?")
    return Weights(state_dict, config, file)


# --- training state ---------------------------------------------------------------------------------
def save_state(path: Path, state: dict[str, Any]) -> None:
    """Tensors, numbers, strings, lists and dicts only, so that :func:`load_state` needs no pickle."""
    # Through a Python file: torch.save to a path fails on a full disk with a RuntimeError that says
    # neither the file nor the reason.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)


def load_state(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:
        raise FdslError(f"training state {str(path)!r} is corrupt ({str(error).splitlines()[0]}); "
                        "start the run again in a new folder") from None


# --- run folders ------------------------------------------------------------------------------------
#: Keys that do not change what a run computes: a run stopped by its timeout may resume with another.
FREE_ON_RESUME = frozenset({"train.timeout_s"})


def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    items: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            items.update(flat(value, f"{prefix}{key}."))
        else:
            items[f"{prefix}{key}"] = value
    return items


def config_changes(out: Path, config: Any) -> list[str]:
    """The keys in which ``config`` differs from the run's config.yaml, both complete: a key added
    to the configs since the run was saved counts as its default there, and so does a family option
    that an older run left unset."""
    saved, current = flat(to_dict(saved_config(out, type(config)))), flat(to_dict(complete(config)))
    return sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k) and k not in FREE_ON_RESUME)


def saved_config(out: Path, cls: type) -> Any:
    """The complete config of the run in ``out`` (its config.yaml over the defaults of ``cls``)."""
    path = Path(out) / RUN_CONFIG_FILE
    try:
        return complete(from_dict(cls, merged(cls(), load_yaml(path))))
    except FdslError as error:
        recorded = run_record(out)
        if recorded is not None:
            task, phase = recorded["task"], recorded["phase"]
            command = f"fdsl {phase} --task {task} --resume ... -o {out}"
            raise FdslError(f"cannot resume {str(out)!r} with this config: it holds a {task} {phase} run "
                            f"(resume it with {command}), or choose another --out") from None
        raise FdslError(f"the config of the run in {str(out)!r} no longer reads: {error}") from None


def run_record(out: Path) -> dict[str, str] | None:
    """The task and phase that the run in ``out`` recorded (None for a run of an older fdsl)."""
    try:
        recorded = json.loads((Path(out) / RUN_RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) and {"task", "phase"} <= set(recorded) else None


def is_finished(out: Path, config: Any) -> bool:
    """True when ``out`` holds a finished run of exactly ``config`` (nothing left to resume)."""
    out = Path(out)
    return (out / SUMMARY_FILE).is_file() and (out / RUN_CONFIG_FILE).is_file() and not config_changes(out, config)


def preview_names(names: list[str]) -> str:
    """The first three class names, for messages about a checkpoint's classes."""
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def check_run_folder(out: Path, config: Any) -> None:
    """The run folder ``out`` can be written and lies apart from the folders ``config`` reads
    (:func:`fdsl.outputs.check_output`): before anything is read or written."""
    check_output(out, inputs=input_folders(config), writes=RUN_ENTRIES)


def prepare_run(out: Path, config: Any, *, resume: bool, task: str, phase: str) -> dict[str, Any] | None:
    """Check the run folder; returns the training state to resume, if any. Nothing is written
    until the first epoch ends (:mod:`fdsl.train.run_folder`), so that bad data or a bad model
    name found on the way leaves no half-made run behind.

    Without ``resume`` the folder must not hold a run yet. With it, the run goes on from
    ``state.pt`` when there is one (else it starts), and only with the same config: a resumed run
    must end exactly where the uninterrupted run would, and of the same task and phase.
    """
    check_run_folder(out, config)
    config_path, state_path = out / RUN_CONFIG_FILE, out / STATE_FILE
    state = None
    if config_path.exists():
        check(resume, f"{str(out)!r} already holds a run; pass --resume to continue it, or choose another --out")
        check_same_run(out, task, phase)
        changed = config_changes(out, config)
        if changed:
            saved, current = flat(to_dict(saved_config(out, type(config)))), flat(to_dict(complete(config)))
            raise FdslError(f"cannot resume {str(out)!r}: its config.yaml differs in {', '.join(changed[:5])} "
                            f"({changed[0]}: {saved.get(changed[0])!r} there, {current.get(changed[0])!r} now)")
        if state_path.exists():
            state = load_state(state_path)
    barrier()  # every rank has looked at the folder before rank 0 writes into it
    return state


def check_same_run(out: Path, task: str, phase: str) -> None:
    """The run in ``out`` is of ``task`` and ``phase`` (when it recorded them: fdsl 0.x runs did not)."""
    from fdsl.tasks import PHASE_WORDS

    recorded = run_record(out)
    if recorded is None or (recorded["task"], recorded["phase"]) == (task, phase):
        return
    theirs = f"{recorded['task']} {PHASE_WORDS.get(recorded['phase'], recorded['phase'])}"
    raise FdslError(f"cannot resume {str(out)!r} as a {task} {PHASE_WORDS[phase]} run: it holds a {theirs} run "
                    f"(resume it with fdsl {recorded['phase']} --task {recorded['task']} --resume), "
                    "or choose another --out")


def write_run_config(out: Path, config: Any, *, task: str, phase: str) -> None:
    """Rank 0 makes the run folder, its config.yaml (every config key, the defaults filled in) and
    run.json (the run's task and phase), as training starts."""
    if is_primary():
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / RUN_RECORD_FILE, json.dumps({"task": task, "phase": phase}) + "\n")
        write_text_atomic(out / RUN_CONFIG_FILE, dump_yaml(complete(config)))
