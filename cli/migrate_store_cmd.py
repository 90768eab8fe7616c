"""`opscentre migrate-store --from PATH --to URL`: copy a SQLite store into an empty PostgreSQL database and
verify the copy (storage/pg/copy.py, copy_prepare.py, copy_verify.py). Exit 0: a verified copy; 1: the copy
failed (target left empty) or differs (the first difference named); 2: refused before anything was written
(cli/main.py's StoreError)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from storage.pg.copy import CopyFailed, Progress, migrate_store
from storage.pg.copy_verify import CopyReport

EXIT_OK, EXIT_PROBLEM = 0, 1


def _progress(stream: TextIO) -> Progress:
    def report(table: str, done: int, total: int) -> None:
        # stderr: stdout stays the report (or the JSON) alone.
        print(f"  {table}: {done:,}/{total:,} rows", file=stream, flush=True)

    return report


def print_report(report: CopyReport, stream: TextIO) -> None:
    width = max(len(t) for t in report.tables)
    print(f"copied {report.source} to {report.target}", file=stream)
    for table, n in report.tables.items():
        mark = "" if n["source"] == n["copy"] else f"   (store: {n['source']:,})"
        print(f"  {table:<{width}}  {n['copy']:>12,}{mark}", file=stream)
    print(f"payloads: {report.payloads_verified:,} sha256 recomputed from the copied bytes", file=stream)
    print(f"audit: {report.audit_entries:,} entries, chain head {report.audit_head_copy}", file=stream)
    print(
        f"events: last seq {report.max_seq_copy:,}, next {report.next_seq_copy:,}, epoch {report.epoch_copy}",
        file=stream,
    )
    print(f"rows compared field by field: {sum(report.rows_compared.values()):,}", file=stream)


def run(source: str, url: str, *, as_json: bool) -> int:
    """Raises storage.pg.copy_prepare.MigrateRefused (a StoreError: exit 2 in cli/main.py)."""
    try:
        report = migrate_store(source, url, progress=_progress(sys.stderr))
    except CopyFailed as exc:
        if as_json:
            print(json.dumps({"ok": False, "problems": [str(exc)]}, ensure_ascii=False))
        print(f"opscentre migrate-store: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print_report(report, sys.stdout)
    if not report.ok:
        print(f"opscentre migrate-store: the copy differs: {report.problems[0]}", file=sys.stderr)
        return EXIT_PROBLEM
    if not as_json:
        print("copy verified", file=sys.stdout)
    return EXIT_OK
