"""One dataset card per dataset, and checking a dataset against it.

A render made as ``--shard i/N`` (on one machine or many, into one folder or copied together)
writes ``dataset_card.shard-i-of-N.json``; :func:`merge_cards` joins the N of them into
``dataset_card.json``, byte for byte the card a whole render writes (``fdsl card merge DIR``, and
the render that writes the last shard card does it itself). :func:`verify_dataset` hashes every
file the card lists (``fdsl verify DIR``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fdsl.atomic import write_text_atomic
from fdsl.data.writer import CARD_NAME, category_checksums, file_digest
from fdsl.errors import FdslError, check
from fdsl.provenance import version_differences

SHARD_CARD = re.compile(r"dataset_card\.shard-(\d+)-of-(\d+)\.json")
#: Card entries that differ between the shards of one dataset; every other entry must agree.
#: (Shards rendered on other machines record other provenances: the merged card lists each once.)
PER_SHARD = ("shard", "samples", "checksums", "files", "provenance")


def read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise FdslError(f"dataset card {str(path)!r} cannot be read ({error})") from None
    check(isinstance(card, dict) and isinstance(card.get("files"), dict),
          f"dataset card {str(path)!r} lists no files (made by an older fdsl?); render again to rebuild it")
    return card


def shard_cards(directory: Path) -> dict[int, dict[int, Path]]:
    """Shard card paths by shard count, then by shard index."""
    found: dict[int, dict[int, Path]] = {}
    for path in sorted(Path(directory).glob("dataset_card.shard-*-of-*.json")):
        match = SHARD_CARD.fullmatch(path.name)
        if match:
            found.setdefault(int(match[2]), {})[int(match[1])] = path
    return found


def merge_cards(directory: Path) -> dict[str, Any]:
    """Join the N shard cards in ``directory`` into ``dataset_card.json``; returns the card."""
    directory = Path(directory)
    check(directory.is_dir(), f"dataset folder {str(directory)!r} does not exist or is not a directory")
    found = shard_cards(directory)
    check(found, f"no shard cards (dataset_card.shard-i-of-N.json) in {str(directory)!r}")
    check(len(found) == 1, f"{str(directory)!r} holds shard cards of {len(found)} different shard counts "
                           f"({', '.join(map(str, sorted(found)))}); keep those of one render")
    count, paths = next(iter(found.items()))
    missing = [f"{i}/{count}" for i in range(count) if i not in paths]
    check(not missing, f"cannot merge: the cards of shard(s) {', '.join(missing)} are missing in {str(directory)!r}")
    cards = [read_card(paths[i]) for i in range(count)]
    for key in cards[0]:
        if key not in PER_SHARD:
            differing = [i for i, card in enumerate(cards) if card.get(key) != cards[0].get(key)]
            check(not differing, f"shard cards 0/{count} and {differing[:1]}/{count} differ in {key!r}; "
                                 "were they rendered with the same options?")
    files: dict[str, str] = {}
    for card in cards:
        for name, digest in card["files"].items():
            check(files.setdefault(name, digest) == digest, f"shard cards disagree on the checksum of {name!r}")
    merged = {**cards[0], "shard": "0/1", "samples": sum(card["samples"] for card in cards)}
    provenances = [card["provenance"] for card in cards if "provenance" in card]
    distinct = [p for i, p in enumerate(provenances) if p not in provenances[:i]]
    if distinct:
        merged["provenance"] = distinct[0] if len(distinct) == 1 else distinct
    if "checksums" in merged:
        merged["checksums"] = category_checksums(files)
    merged["files"] = dict(sorted(files.items()))
    write_text_atomic(directory / CARD_NAME, json.dumps(merged, indent=1))
    return merged


def merge_when_complete(directory: Path, count: int) -> None:
    """Merge once the cards of all ``count`` shards are in ``directory`` (the last shard to finish)."""
    if len(shard_cards(directory).get(count, {})) == count:
        merge_cards(directory)


def verify_dataset(directory: Path, *, progress: bool = True) -> tuple[int, list[str]]:
    """Hash every file the card of ``directory`` lists: (files checked, one line per missing or
    corrupt file). Bad input (no folder, no card) raises :class:`FdslError`."""
    directory = Path(directory)
    check(directory.is_dir(), f"dataset folder {str(directory)!r} does not exist or is not a directory")
    path = directory / CARD_NAME
    if not path.is_file():
        pending = shard_cards(directory)
        hint = "; it holds shard cards: merge them with `fdsl card merge`" if pending else ""
        raise FdslError(f"no dataset card {CARD_NAME} in {str(directory)!r}{hint}")
    files = read_card(path)["files"]
    problems = []
    for name, digest in tqdm(files.items(), total=len(files), unit="file", disable=not progress, desc="verify"):
        file = directory / name
        if not file.is_file():
            problems.append(f"{name}: missing")
        elif file_digest(file) != digest:
            problems.append(f"{name}: corrupt (sha256 differs from the card)")
    return len(files), problems



def version_warning(directory: Path) -> str | None:
    """One line naming the packages whose installed versions differ from those the card of
    ``directory`` recorded (None when they agree, or the card predates provenance). The data's bytes
    are promised for the recorded versions: with others, a re-render may differ."""
    recorded = read_card(Path(directory) / CARD_NAME).get("provenance")
    provenances = recorded if isinstance(recorded, list) else [recorded] if recorded else []
    differences = sorted({line for p in provenances for line in version_differences(p)})
    if not differences:
        return None
    return (f"the card of {str(directory)!r} was made with other package versions than those installed "
            f"({'; '.join(differences)}): the files are checked all the same, but a re-render may differ")
