"""One dataset card per dataset, and checking a dataset against it.

A render made as ``--shard i/N`` (on one machine or many, into one folder or copied together)
writes ``dataset_card.shard-i-of-N.json``; :func:`merge_cards` joins the N of them into
``dataset_card.json``, byte for byte the card a whole render writes (``fdsl card merge DIR``, and
the render that writes the last shard card does it itself). :func:`verify_dataset` hashes every
file the card lists and names every file it does not list (``fdsl verify DIR``);
:func:`check_rendered_dataset` is the same check as one error, for training from a render.

A render's configuration (:func:`configuration_of`: family, options, data seed, counts, format and
category parameters) decides every byte it writes, so a render refuses a folder that holds another
configuration (:func:`check_output_configuration`). A render records its configuration in
``.fdsl-render.json`` before it writes anything else and removes the record once the whole card
is written: an interrupted render is recognised even before any card exists.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from tqdm import tqdm

from fdsl.atomic import TMP_MARK, write_text_atomic
from fdsl.data.writer import CARD_NAME, CATEGORY_DIR, CATEGORY_TAR, category_checksums, file_digest
from fdsl.errors import FdslError, check
from fdsl.provenance import version_differences

SHARD_CARD = re.compile(r"dataset_card\.shard-(\d+)-of-(\d+)\.json")
#: Card entries that differ between the shards of one dataset; every other entry must agree.
#: (Shards rendered on other machines record other provenances: the merged card lists each once.)
PER_SHARD = ("shard", "samples", "checksums", "files", "provenance")
#: Where a render records its configuration until its whole card is written.
RENDER_RECORD = ".fdsl-render.json"
#: Card entries that decide the bytes of a render, in the order a difference is reported, with their names in messages.
CONFIGURATION = {"family": "family", "format": "format", "config": "options", "seed": "data seed",
                 "categories": "categories", "instances_per_category": "instances per category",
                 "shard_size": "shard size", "category_files": "category parameters"}
#: Files hashing more than one at a time pays off for (their reads overlap; hashlib releases the GIL).
HASH_THREADS = min(4, os.cpu_count() or 1)


def read_card(path: Path) -> dict[str, Any]:
    card = load_card(path)
    check(isinstance(card.get("files"), dict),
          f"dataset card {str(path)!r} lists no files (made by an older fdsl?); render again to rebuild it")
    return card


def load_card(path: Path) -> dict[str, Any]:
    """A card as JSON, whether or not it lists files (a render reads the configuration of old ones)."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise FdslError(f"dataset card {str(path)!r} cannot be read ({' '.join(str(error).split())})") from None
    check(isinstance(card, dict), f"dataset card {str(path)!r} is no JSON object")
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
    remove_render_record(directory)
    return merged


def merge_when_complete(directory: Path, count: int) -> None:
    """Merge once the cards of all ``count`` shards are in ``directory`` (the last shard to finish)."""
    if len(shard_cards(directory).get(count, {})) == count:
        merge_cards(directory)


class Verification(NamedTuple):
    """What ``fdsl verify`` found: files the card lists, one line per missing or corrupt one, and
    the files present that the card does not list (relative paths)."""

    checked: int
    problems: list[str]
    unlisted: list[str]


def verify_dataset(directory: Path, *, progress: bool = True) -> Verification:
    """Hash every file the card of ``directory`` lists and look for files it does not list. Bad
    input (no folder, no card) raises :class:`FdslError`."""
    directory = Path(directory)
    files = finished_card(directory)["files"]
    missing = missing_files(directory, files)
    present = {name: digest for name, digest in files.items() if name not in missing}
    bad = content_problems(directory, present, progress=progress)
    problems = [f"{name}: missing" for name in missing] + [f"{name}: {problem}" for name, problem in bad]
    return Verification(len(files), problems, unlisted_files(directory, files))


def finished_card(directory: Path) -> dict[str, Any]:
    """The merged card of the dataset ``directory``; a folder without one ends in one line saying why."""
    directory = Path(directory)
    check(directory.is_dir(), f"dataset folder {str(directory)!r} does not exist or is not a directory")
    path = directory / CARD_NAME
    if not path.is_file():
        if shard_cards(directory):
            hint = "; it holds shard cards: finish every shard, or merge them with `fdsl card merge`"
        elif (directory / RENDER_RECORD).is_file():
            hint = "; it holds an unfinished render: run the same `fdsl render` command again to finish it"
        else:
            hint = ""
        raise FdslError(f"no dataset card {CARD_NAME} in {str(directory)!r}{hint}")
    return read_card(path)


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


def missing_files(directory: Path, files: Iterable[str]) -> list[str]:
    return [name for name in files if not (directory / name).is_file()]


def content_problems(directory: Path, files: dict[str, str], *, progress: bool = False) -> list[tuple[str, str]]:
    """(name, what is wrong) of the ``files`` (relative path -> sha256) whose bytes have another
    sha256 or cannot be read, in card order."""
    names = list(files)
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        found = pool.map(readable_digest, [directory / name for name in names])
        checked = tqdm(zip(names, found), total=len(names), unit="file", disable=not progress, desc="verify")
        return [(name, problem_of(digest, files[name])) for name, digest in checked if digest != files[name]]


def readable_digest(path: Path) -> str | OSError:
    try:
        return file_digest(path)
    except OSError as error:
        return error


def problem_of(found: str | OSError, expected: str) -> str:
    if isinstance(found, OSError):
        return f"unreadable ({found.strerror or found})"
    return "corrupt (sha256 differs from the card)"


def unlisted_files(directory: Path, listed: Iterable[str]) -> list[str]:
    """Files under ``directory`` (and links to folders, which readers follow) that the card does not
    list, sorted; the cards and the render record are the dataset's own bookkeeping."""
    known = set(listed)
    return [name for name in dataset_entries(Path(directory)) if name not in known and not is_bookkeeping(name)]


def dataset_entries(directory: Path) -> Iterator[str]:
    """Relative paths of every file, and of every link to a folder, under ``directory`` (no link followed)."""
    for folder, subfolders, names in os.walk(directory):
        relative = Path(folder).relative_to(directory)
        linked = [name for name in subfolders if os.path.islink(os.path.join(folder, name))]
        for name in sorted(names + linked):
            yield (relative / name).as_posix()


def is_bookkeeping(name: str) -> bool:
    return name in (CARD_NAME, RENDER_RECORD) or SHARD_CARD.fullmatch(name) is not None


def check_rendered_dataset(directory: Path, *, progress: bool = False) -> dict[str, Any]:
    """The card of a rendered dataset, once its files are exactly those it lists, with their
    sha256; else one :class:`FdslError` naming the first missing, unlisted or corrupt file.
    Training from a render calls it before it writes anything."""
    directory = Path(directory)
    files = finished_card(directory)["files"]
    where = f"the dataset card of {str(directory)!r}"
    missing = missing_files(directory, files)
    if missing:
        raise FdslError(f"{str(directory / missing[0])!r} is missing: {where} lists it ({len(missing)} missing; "
                        f"`fdsl verify {directory}` names every problem)")
    unlisted = unlisted_files(directory, files)
    if unlisted:
        raise FdslError(f"{str(directory / unlisted[0])!r} is not listed in {where} ({len(unlisted)} unlisted "
                        "file(s)); remove what was added to the render")
    bad = content_problems(directory, files, progress=progress)
    if bad:
        name, problem = bad[0]
        raise FdslError(f"{str(directory / name)!r} is {problem.replace('the card', where)} ({len(bad)} corrupt or "
                        f"unreadable; `fdsl verify {directory}` names every problem)")
    return read_card(directory / CARD_NAME)


def check_card_family(card: dict[str, Any], family: str, directory: Path) -> None:
    """A run from a rendered folder trains on the family the folder holds, so its cards say so."""
    check(card.get("family") == family,
          f"{str(directory)!r} holds a {card.get('family')} render (its {CARD_NAME}) but data.family is {family!r}; "
          f"pass --family {card.get('family')}")


# --- the configuration of a render ---------------------------------------------------------------
def configuration_of(card: dict[str, Any]) -> dict[str, Any]:
    """The entries of a card (or a render record) that decide a render's bytes (:data:`CONFIGURATION`),
    the category files' digests among them, as JSON gives them back."""
    found = {key: card.get(key) for key in CONFIGURATION if key != "category_files"}
    found["format"] = found["format"] or "folder"  # cards of the first fdsl versions had no format
    files = card.get("files") if isinstance(card.get("files"), dict) else {}
    found["category_files"] = {name: digest for name, digest in files.items() if is_category_file(name)}
    return json.loads(json.dumps(found))


def is_category_file(name: str) -> bool:
    return name == CATEGORY_TAR or name.startswith(f"{CATEGORY_DIR}/")


def configuration_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, their value, our value) of each entry that differs; the family options one by one,
    and the category files only when both sides know them."""
    found = []
    for key, label in CONFIGURATION.items():
        mine, other = ours.get(key), theirs.get(key)
        if key == "category_files" and not (mine and other):
            continue
        if key == "config" and isinstance(mine, dict) and isinstance(other, dict):
            found += [(f"option {name!r}", other.get(name, "unset"), mine.get(name, "unset"))
                      for name in sorted(set(mine) | set(other)) if mine.get(name, "unset") != other.get(name, "unset")]
        elif mine != other:
            found.append((label, other, mine))
    return found


def card_paths(directory: Path) -> list[Path]:
    """The card and the shard cards present in ``directory``."""
    shards = [path for by_index in shard_cards(directory).values() for path in by_index.values()]
    return [path for path in [directory / CARD_NAME, *shards] if path.is_file()]


def recorded_configurations(directory: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, configuration) of every card and render record in ``directory``."""
    for path in card_paths(directory):
        yield path.name, configuration_of(load_card(path))
    record = directory / RENDER_RECORD
    if record.is_file():
        yield record.name, read_render_record(record)


def recorded_digests(directory: Path) -> dict[str, str]:
    """relative path -> sha256 of every file that the cards (whole and shard cards) in ``directory``
    list: a resumed render renders again a file whose bytes differ, instead of listing them."""
    digests: dict[str, str] = {}
    for path in card_paths(directory):
        files = load_card(path).get("files")
        digests.update(files if isinstance(files, dict) else {})
    return digests


def read_render_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FdslError(f"render record {str(path)!r} cannot be read ({error}); delete the folder or render "
                        "into another") from None
    check(isinstance(record, dict), f"render record {str(path)!r} is no JSON object; delete the folder or render "
                                    "into another")
    return record


def check_output_configuration(out: Path, configuration: dict[str, Any]) -> None:
    """Refuse to render ``configuration`` into a folder that holds another render (a card, a shard
    card or an unfinished render's record that differs) or files of no render; one line naming
    the first difference. The same configuration resumes."""
    out = Path(out)
    if not out.is_dir():
        return
    ours = json.loads(json.dumps(configuration))
    recorded = False
    for name, theirs in recorded_configurations(out):
        recorded = True
        differences = configuration_differences(theirs, ours)
        if differences:
            label, old, new = differences[0]
            raise FdslError(f"cannot render into {str(out)!r}: it holds a render whose {label} is {old!r} ({name}), "
                            f"this one's is {new!r}; render into another folder, or delete it first")
    strays = [] if recorded else [name for name in dataset_entries(out) if TMP_MARK not in name]
    if strays:
        raise FdslError(f"cannot render into {str(out)!r}: it holds files of no fdsl render (e.g. {strays[0]!r}) "
                        "and no dataset card; render into an empty or new folder")


def write_render_record(out: Path, configuration: dict[str, Any]) -> None:
    """Record the configuration of the render starting in ``out`` (the same for all its shards)."""
    path = Path(out) / RENDER_RECORD
    if not path.is_file():
        write_text_atomic(path, json.dumps(configuration, indent=1))


def remove_render_record(out: Path) -> None:
    """Once the whole card is written it records the configuration."""
    if (Path(out) / CARD_NAME).is_file():
        (Path(out) / RENDER_RECORD).unlink(missing_ok=True)
