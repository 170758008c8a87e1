"""A run folder as a run fills it: nothing until the first epoch ends, then that epoch's config,
weights, state and metrics, and so on each epoch (:func:`fdsl.train.trainer.fit`).

A run that fails or is interrupted before its first epoch is saved leaves nothing behind: a kill
finds nothing written yet, and an error or Ctrl-C removes what the run had begun to write, so the
same command starts it again. Once an epoch is saved the folder keeps the finished epochs for
``--resume``. A failed write (a full disk, a read-only file system) ends in one line naming the
file and saying what the folder keeps.

No torch here: the CLI reads :class:`RunInterrupted` to word its Ctrl-C message.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from fdsl.errors import FdslError
from fdsl.outputs import write_failure


def epochs_text(count: int) -> str:
    return "epoch 1" if count == 1 else f"epochs 1-{count}"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; says what its folder keeps (``epochs_kept``: 0 when nothing)."""

    def __init__(self, out: Path, epochs_kept: int):
        self.out, self.epochs_kept = Path(out), epochs_kept
        super().__init__(f"{str(out)!r} keeps {epochs_text(epochs_kept)}" if epochs_kept else
                         f"the run in {str(out)!r} had not finished its first epoch and left nothing")


class RunFolder:
    """What a run may leave in ``out``: the epochs saved so far (``epochs_kept``, the resumed ones
    to begin with). Only the primary rank writes, so only it cleans up."""

    def __init__(self, out: Path, *, epochs_kept: int, primary: bool):
        self.out, self.epochs_kept, self.primary = Path(out), epochs_kept, primary
        self.made = first_missing(self.out)
        self.before = set(os.listdir(self.out)) if self.out.is_dir() else set()

    @contextlib.contextmanager
    def kept_whole(self) -> Iterator[None]:
        """Around the epochs: on any error or Ctrl-C before an epoch is saved, remove what the run made."""
        try:
            yield
        except KeyboardInterrupt:
            self.discard_unsaved()
            raise RunInterrupted(self.out, self.epochs_kept) from None
        except BaseException:
            self.discard_unsaved()
            raise

    @contextlib.contextmanager
    def saving(self, epochs: int) -> Iterator[None]:
        """Around the writes that save ``epochs`` epochs: a failed write is one line; once they are
        written the folder keeps those epochs."""
        try:
            yield
        except OSError as error:
            kept = f"{str(self.out)!r} keeps {epochs_text(self.epochs_kept)} to resume" if self.epochs_kept \
                else "nothing of the run was kept"
            raise FdslError(f"{write_failure(error, self.out)}; {kept}") from None
        self.epochs_kept = epochs

    def discard_unsaved(self) -> None:
        """Remove what this run wrote when it saved no epoch (what the folder held before stays),
        then the folders made for it, if empty. Best effort: the error that got here is the news."""
        if not self.primary or self.epochs_kept or not self.out.is_dir():
            return
        for name in set(os.listdir(self.out)) - self.before:
            path = self.out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
        folder = self.out
        while self.made is not None and self.made in (folder, *folder.parents) and not any(folder.iterdir()):
            with contextlib.suppress(OSError):
                folder.rmdir()
            folder = folder.parent


def first_missing(path: Path) -> Path | None:
    """The highest folder of ``path`` that does not exist yet (``path`` itself or an ancestor), or None."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing
