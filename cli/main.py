"""`opscentre`: one entry point, one subcommand per job. `opscentre COMMAND --help` explains each; each
command's module (cli/commands/) registers its own."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cli.commands import COMMANDS
from cli.common import EXIT_USAGE, UserError, err
from cli.config import ConfigError
from storage import StoreError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opscentre",
        description="Operations centre of the national reporting information system.",
        epilog="Without --config the built-in demo configuration applies (see `opscentre show-config`).",
    )
    parser.add_argument("--version", action="version", version=f"opscentre {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="configuration file (TOML); default: built-in")
    common.add_argument("--db", metavar="PATH", help="SQLite database file (overrides the configuration)")
    common.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[..., Any], help_: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_, **kw)
        p.set_defaults(handler=handler)
        return p

    for command in COMMANDS:
        command.register(add)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opscentre")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        # "skipped: maximum number of running instances reached" is coalescing doing its job, not news.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result)
    except (UserError, StoreError) as exc:
        err.print(f"opscentre {args.command}: {exc}", markup=False)
        return EXIT_USAGE
    except ConfigError as exc:
        err.print(f"opscentre {args.command}: invalid configuration {exc.origin}:", markup=False)
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
