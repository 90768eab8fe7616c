"""What every `opscentre` command shares: the output consoles, exit codes, the user's mistakes, and
reading the configuration and the database the arguments name."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from cli.config import Config, load
from storage import Store
from storage.clock import parse_moment
from storage.dialect import dialect_for

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2

# Piped output is not cut to 80 columns: tables stay one row per line for grep and friends.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""


# ``add(name, handler, help, **kw)``: a subcommand with the common options (cli/main.py's build_parser).
Add = Callable[..., argparse.ArgumentParser]


def config_of(args: argparse.Namespace) -> Config:
    return load(args.config)


def db_path(args: argparse.Namespace) -> str:
    # --db, else [database] url (PostgreSQL) or path (SQLite): Store.open picks the engine from it.
    return args.db or config_of(args).database.target


def exists(path: str) -> bool:
    return Path(path).exists()


def existing_db(args: argparse.Namespace) -> str:
    path = db_path(args)
    if path != ":memory:" and dialect_for(path).local_file and not Path(path).exists():
        raise UserError(f"no database at {path}: create it with `opscentre init-db` (or pass --db PATH)")
    return path


async def open_existing(args: argparse.Namespace) -> Store:
    config = config_of(args)
    return await Store.open(
        existing_db(args), extra_indicators=config.indicators, source_agencies=config.source_agencies()
    )


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def parse_moment_arg(text: str) -> Any:
    try:
        moment = parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    # A time of day without a zone is ambiguous: the server keeps UTC, the wall page shows the
    # centre's time (UTC+7), a laptop has its own. Refuse rather than guess. A bare date is
    # documented as the end of that day, UTC, and the output says so.
    if len(text) != 10 and datetime.fromisoformat(text).tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: add one, e.g. '{text}Z' (UTC) or '{text}+07:00' (Vietnam, as on the wall page)"
        )
    return moment


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))
