"""`opscentre briefing`: the leaders' briefing of one period, as known at one instant, to a PDF or HTML file
(the content: briefing/, docs/briefing.md)."""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from cli.common import EXIT_OK, Add, UserError, config_of, err, open_existing, parse_moment_arg


def _writable(out: str) -> Path:
    """The --out file's path, once its folder is known to take a new file (before any work is done)."""
    path = Path(out)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"--out {out}: is a folder; name a file")
    if not folder.is_dir():
        raise UserError(f"--out {out}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"--out {out}: not writable")
    return path


async def cmd_briefing(args: argparse.Namespace) -> int:
    from briefing import BriefingError, make
    from storage import Period, PeriodError
    from storage.clock import utcnow

    try:
        Period.parse(args.period)
    except PeriodError as exc:
        raise UserError(f"--period: {exc}") from None
    as_of: datetime | None = args.as_of
    if as_of is not None and as_of > utcnow():
        raise UserError(f"--as-of {as_of.isoformat()} is in the future: a briefing shows what the centre knew")
    path = _writable(args.out)
    fmt: Literal["pdf", "html"] = args.format or ("html" if path.suffix.lower() in (".html", ".htm") else "pdf")
    config = config_of(args)
    store = await open_existing(args)
    try:
        err.print(
            f"briefing {args.period}: gathering the figures as of {(as_of or utcnow()).isoformat()}", markup=False
        )
        try:
            made = await make(
                store, period=args.period, as_of=as_of, lang=args.lang, fmt=fmt, indicators=args.indicator or None,
                rules=config.rules,
            )  # fmt: skip
        except BriefingError as exc:
            raise UserError(str(exc)) from None
    finally:
        await store.close()
    # Written whole or not at all: a temporary file beside it, renamed over it.
    with tempfile.NamedTemporaryFile(
        dir=path.parent if str(path.parent) else ".", prefix=".briefing-", delete=False
    ) as tmp:
        tmp.write(made.body)
    os.replace(tmp.name, path)
    err.print(
        f"briefing {made.period} ({made.lang}, {made.fmt}): {len(made.body):,} bytes to {path}; "
        f"as of {made.as_of.isoformat()}; content sha256 {made.content_digest}",
        markup=False,
    )
    return EXIT_OK


def register(add: Add) -> None:
    p = add(
        "briefing", cmd_briefing, "the leaders' briefing of a period as a PDF (or HTML), every figure with its source"
    )
    p.add_argument("--period", required=True, metavar="PERIOD", help="the period: 2026-11, 2026-Q3 or 2026")
    p.add_argument("--as-of", type=parse_moment_arg, metavar="INSTANT",
                   help="the figures as the centre knew them then (ISO 8601 with a zone; default: now)")  # fmt: skip
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="words and numbers in Vietnamese or English")
    p.add_argument("--format", choices=["pdf", "html"], help="default: html for an .html file, else pdf")
    p.add_argument(
        "--indicator", action="append", metavar="CODE", help="this indicator (repeatable; default: the key ones)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (replaced whole)")
