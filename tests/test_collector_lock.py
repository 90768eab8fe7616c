"""The collector lock of a SQLite store is the database file's, whatever path names it: a symlink,
a hard link, or a relative path from another folder meets the same lock (a second collector on the
same file through another name collected the same sources). ``flock`` locks are per open file, so
two locks in one process conflict as two processes' would; a child process is checked too."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.lock import CollectorLock, DatabaseBusy, holder
from tests.conftest import ROOT


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "ops.db"
    path.parent.mkdir()
    sqlite3.connect(path).close()
    return path


@pytest.fixture
def held(db: Path) -> Iterator[CollectorLock]:
    lock = CollectorLock(db)
    lock.acquire("opscentre serve")
    yield lock
    lock.release()


def other_names(db: Path, tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "elsewhere").mkdir()
    symlink = tmp_path / "elsewhere" / "link.db"
    symlink.symlink_to(db)
    hard = tmp_path / "elsewhere" / "hard.db"
    os.link(db, hard)
    folder = tmp_path / "folder-link"
    folder.symlink_to(db.parent, target_is_directory=True)
    return {"symlink": symlink, "hard link": hard, "dir symlink": folder / db.name}


@pytest.mark.parametrize("kind", ["symlink", "hard link", "dir symlink"])
def test_another_path_to_the_same_file_is_refused(db: Path, tmp_path: Path, held: CollectorLock, kind: str) -> None:
    second = CollectorLock(other_names(db, tmp_path)[kind])
    with pytest.raises(DatabaseBusy) as info:
        second.acquire("opscentre collect --local")
    said = str(info.value)
    if kind == "hard link":  # no shared name beside it: said plainly
        assert "another process, through another path to the same file" in said
    else:  # the same resolved sidecar: the holder is named
        assert "opscentre serve (pid" in said
    second.release()
    assert held.held


def test_a_relative_path_from_another_folder_is_refused(
    db: Path, held: CollectorLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db.parent.parent)
    with pytest.raises(DatabaseBusy):
        CollectorLock(Path("data") / "ops.db").acquire("opscentre collect --local")


def test_once_released_any_path_takes_it_and_a_failed_try_leaves_the_holder_whole(db: Path, tmp_path: Path) -> None:
    first = CollectorLock(db)
    first.acquire("opscentre serve")
    names = other_names(db, tmp_path)
    for path in names.values():
        with pytest.raises(DatabaseBusy):
            CollectorLock(path).acquire("opscentre collect --local")
    found = holder(db)
    assert found is not None and found.command == "opscentre serve"  # the holder's name was not disturbed
    first.release()
    assert holder(db) is None
    for path in names.values():
        lock = CollectorLock(path)
        lock.acquire("opscentre collect --local")
        lock.release()


def test_another_process_through_a_hard_link_is_refused(db: Path, tmp_path: Path, held: CollectorLock) -> None:
    hard = other_names(db, tmp_path)["hard link"]
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from storage.lock import CollectorLock, DatabaseBusy\n"
            "try:\n    CollectorLock(sys.argv[1]).acquire('opscentre collect --local')\n"
            "except DatabaseBusy as exc:\n    print(exc); sys.exit(3)\n",
            str(hard),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 3, child.stdout + child.stderr
    assert "already in use" in child.stdout
