"""The audit log is hash-chained: editing, removing, reordering or cutting entries is found."""

from __future__ import annotations

import pytest

from storage import ConstraintError, Store
from storage.dialect import dialect_for
from tests.conftest import raw_db, run_cli

BOTH_ENGINES = True  # each test on SQLite and on PostgreSQL (the store_target fixture, tests/conftest.py)


async def filled(path: str) -> str:
    store = await Store.open(path)
    try:
        for i in range(1, 7):
            await store.audit.record(
                f"user{i % 2}", "admin", "collect.run", f"source:gso-{i}", {"request": i, "ghi chú": "thu thập"}
            )
        report = await store.audit.verify()
        assert report.ok and report.entries == 6
        return report.head
    finally:
        await store.close()


def tamper(path: str, *statements: str) -> None:
    conn = raw_db(path)
    on = " ON audit" if dialect_for(path).is_pg else ""  # PostgreSQL names a trigger's table
    try:
        # Someone with write access to the file can drop the append-only triggers; the chain still tells.
        conn.execute("DROP TRIGGER audit_no_update" + on)
        conn.execute("DROP TRIGGER audit_no_delete" + on)
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


async def problems(path: str, expected_head: str | None = None) -> list[str]:
    store = await Store.open(path)
    try:
        return (await store.audit.verify(expected_head)).problems
    finally:
        await store.close()


async def test_intact_log_verifies(store_target: str) -> None:
    head = await filled(store_target)
    assert await problems(store_target, head) == []


async def test_the_triggers_refuse_edits_in_the_first_place(store_target: str) -> None:
    await filled(store_target)
    conn = raw_db(store_target)
    try:
        with pytest.raises(ConstraintError, match="append-only"):
            conn.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2")
        with pytest.raises(ConstraintError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE id = 2")
    finally:
        conn.close()


async def test_an_edited_entry_is_found(store_target: str) -> None:
    await filled(store_target)
    tamper(store_target, "UPDATE audit SET actor = 'someone-else' WHERE id = 3")
    assert await problems(store_target) == ["entry 3 was edited (its content does not match its hash)"]


async def test_edited_details_are_found(store_target: str) -> None:
    await filled(store_target)
    tamper(store_target, """UPDATE audit SET details = '{"ghi chú":"thu thập","request":99}' WHERE id = 5""")
    assert await problems(store_target) == ["entry 5 was edited (its content does not match its hash)"]


async def test_a_removed_entry_is_found(store_target: str) -> None:
    await filled(store_target)
    tamper(store_target, "DELETE FROM audit WHERE id = 4")
    found = await problems(store_target)
    assert "entry 4 removed (the log jumps from 3 to 5)" in found
    assert "entry 5 does not follow the entry before it (chain broken)" in found


async def test_reordered_entries_are_found(store_target: str) -> None:
    await filled(store_target)
    tamper(
        store_target,
        "UPDATE audit SET id = 100 WHERE id = 2",
        "UPDATE audit SET id = 2 WHERE id = 3",
        "UPDATE audit SET id = 3 WHERE id = 100",
    )
    found = await problems(store_target)
    assert any("entry 2" in p for p in found) and any("entry 3" in p for p in found)


async def test_entries_cut_from_the_end_are_found(store_target: str) -> None:
    head = await filled(store_target)
    tamper(store_target, "DELETE FROM audit WHERE id >= 5")
    found = await problems(store_target)
    assert any("removed from the end" in p for p in found)
    # Even if the recorded head is rewritten too, the head an admin noted down does not match.
    conn = raw_db(store_target)
    (h4,) = conn.execute("SELECT hash FROM audit WHERE id = 4").fetchone()
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"4:{h4}",))
    conn.commit()
    conn.close()
    assert await problems(store_target) == []
    assert await problems(store_target, expected_head=head) == [f"the head is {h4}, not the expected {head}"]


async def test_verify_audit_command_exits_1_when_damaged(store_target: str) -> None:
    db = store_target
    await filled(db)
    ok = run_cli("verify-audit", "--db", str(db))
    assert ok.returncode == 0 and "audit log intact: 6 entries" in ok.stdout
    tamper(db, "UPDATE audit SET target = 'source:other' WHERE id = 1")
    bad = run_cli("verify-audit", "--db", str(db))
    assert bad.returncode == 1
    assert "entry 1 was edited" in bad.stderr
