"""The audit log is hash-chained: editing, removing, reordering or cutting entries is found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import Store
from tests.conftest import run_cli


async def filled(path: Path) -> str:
    store = await Store.open(path)
    try:
        for i in range(1, 7):
            await store.audit(
                f"user{i % 2}", "admin", "collect.run", f"source:gso-{i}", {"request": i, "ghi chú": "thu thập"}
            )
        report = await store.verify_audit()
        assert report.ok and report.entries == 6
        return report.head
    finally:
        await store.close()


def tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        # Someone with write access to the file can drop the append-only triggers; the chain still tells.
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


async def problems(path: Path, expected_head: str | None = None) -> list[str]:
    store = await Store.open(path)
    try:
        return (await store.verify_audit(expected_head)).problems
    finally:
        await store.close()


async def test_intact_log_verifies(tmp_path: Path) -> None:
    head = await filled(tmp_path / "a.db")
    assert await problems(tmp_path / "a.db", head) == []


async def test_the_triggers_refuse_edits_in_the_first_place(tmp_path: Path) -> None:
    await filled(tmp_path / "a.db")
    conn = sqlite3.connect(tmp_path / "a.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE id = 2")
    finally:
        conn.close()


async def test_an_edited_entry_is_found(tmp_path: Path) -> None:
    await filled(tmp_path / "a.db")
    tamper(tmp_path / "a.db", "UPDATE audit SET actor = 'someone-else' WHERE id = 3")
    assert await problems(tmp_path / "a.db") == ["entry 3 was edited (its content does not match its hash)"]


async def test_edited_details_are_found(tmp_path: Path) -> None:
    await filled(tmp_path / "a.db")
    tamper(tmp_path / "a.db", """UPDATE audit SET details = '{"ghi chú":"thu thập","request":99}' WHERE id = 5""")
    assert await problems(tmp_path / "a.db") == ["entry 5 was edited (its content does not match its hash)"]


async def test_a_removed_entry_is_found(tmp_path: Path) -> None:
    await filled(tmp_path / "a.db")
    tamper(tmp_path / "a.db", "DELETE FROM audit WHERE id = 4")
    found = await problems(tmp_path / "a.db")
    assert "entry 4 removed (the log jumps from 3 to 5)" in found
    assert "entry 5 does not follow the entry before it (chain broken)" in found


async def test_reordered_entries_are_found(tmp_path: Path) -> None:
    await filled(tmp_path / "a.db")
    tamper(
        tmp_path / "a.db",
        "UPDATE audit SET id = 100 WHERE id = 2",
        "UPDATE audit SET id = 2 WHERE id = 3",
        "UPDATE audit SET id = 3 WHERE id = 100",
    )
    found = await problems(tmp_path / "a.db")
    assert any("entry 2" in p for p in found) and any("entry 3" in p for p in found)


async def test_entries_cut_from_the_end_are_found(tmp_path: Path) -> None:
    head = await filled(tmp_path / "a.db")
    tamper(tmp_path / "a.db", "DELETE FROM audit WHERE id >= 5")
    found = await problems(tmp_path / "a.db")
    assert any("removed from the end" in p for p in found)
    # Even if the recorded head is rewritten too, the head an admin noted down does not match.
    conn = sqlite3.connect(tmp_path / "a.db")
    (h4,) = conn.execute("SELECT hash FROM audit WHERE id = 4").fetchone()
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"4:{h4}",))
    conn.commit()
    conn.close()
    assert await problems(tmp_path / "a.db") == []
    assert await problems(tmp_path / "a.db", expected_head=head) == [f"the head is {h4}, not the expected {head}"]


async def test_verify_audit_command_exits_1_when_damaged(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    await filled(db)
    ok = run_cli("verify-audit", "--db", str(db))
    assert ok.returncode == 0 and "audit log intact: 6 entries" in ok.stdout
    tamper(db, "UPDATE audit SET target = 'source:other' WHERE id = 1")
    bad = run_cli("verify-audit", "--db", str(db))
    assert bad.returncode == 1
    assert "entry 1 was edited" in bad.stderr
