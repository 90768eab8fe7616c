"""Setting up: the database, the configuration, tokens, the audit chain, the protocol's schema, moving to PostgreSQL."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    Add,
    UserError,
    config_of,
    db_path,
    err,
    exists,
    open_existing,
    out,
)
from cli.config import BriefingSettings, Config, ConfigError, builtin_text, load
from feed.config import hash_token
from storage import Store
from storage.dialect import dialect_for
from storage.pg.adapter import shown

# The demo users' tokens (see cli/default.toml): short, public, and accepted only to reproduce
# the built-in configuration's hashes.
DEMO_TOKENS = ("demo-display", "demo-operator", "demo-admin")


async def cmd_init_db(args: argparse.Namespace) -> int:
    """Tells what it did: created the database (or the schema in an empty one), upgraded it (from
    which version), or nothing; on either engine, from the version the store found (``schema_was``)."""
    path = db_path(args)
    new_file = path != ":memory:" and dialect_for(path).local_file and not exists(path)
    config = config_of(args)
    store = await Store.open(path, extra_indicators=config.indicators, source_agencies=config.source_agencies())
    try:
        indicators = len(await store.reference.indicators())
        areas = len(await store.reference.areas_in_force(date.today()))
        before, version = store.schema_was, await store.schema_version()  # each engine numbers its own
    finally:
        await store.close()
    where = shown(path)
    if before == 0:
        what = (
            f"created database {where}" if new_file or path == ":memory:" else f"created the schema in database {where}"
        )
        out.print(f"{what} (schema version {version}; {indicators} indicators, {areas} provinces in force)")
    elif before < version:
        out.print(f"upgraded database {where} from schema version {before} to {version}")
    else:
        out.print(f"database {where} is up to date (schema version {version}); nothing changed")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load(args.file)
    except ConfigError as exc:
        err.print(f"[bold red]{exc.origin}: invalid configuration[/]")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        return EXIT_USAGE
    out.print(
        f"{args.file}: valid. database {shown(config.database.target)}; feed {config.feed.host}:{config.feed.port}"
        f"{' (TLS)' if config.feed.tls_cert else ''}; {len(config.sources)} sources "
        f"({sum(s.enabled for s in config.sources)} enabled); {len(config.users)} users; "
        f"{len(config.indicators)} extra indicators"
    )
    out.print(describe_briefing(config.briefing), markup=False)
    for warning in config_warnings(config):
        err.print(f"warning: {warning}", markup=False)
    return EXIT_OK


def describe_briefing(b: BriefingSettings | None) -> str:
    if b is None:
        return "briefing: none made on a schedule (no [briefing])"
    which = ", ".join(b.indicators) if b.indicators else "the key indicators"
    return (
        f"briefing: the {b.period} at cron {b.cron!r} (UTC), in {', '.join(b.langs)}, as {', '.join(b.formats)}; "
        f"{which}"
    )


def config_warnings(config: Config) -> list[str]:
    """Valid but probably not meant: a server that collects nothing, or that nobody can connect to."""
    warnings = []
    if not config.sources:
        warnings.append("no [[sources]]: nothing will be collected")
    elif not any(s.enabled for s in config.sources):
        warnings.append("every source is disabled (enabled = false): nothing will be collected")
    if not config.users:
        warnings.append("no [[users]]: nobody can connect to the feed (add users with `opscentre hash-token`)")
    return warnings


def cmd_show_config(args: argparse.Namespace) -> int:
    sys.stdout.write(builtin_text())
    return EXIT_OK


def cmd_hash_token(args: argparse.Namespace) -> int:
    token = args.token if args.token is not None else sys.stdin.readline().strip()
    if token in DEMO_TOKENS:
        err.print(f"note: {token!r} is a public demo token; never use it outside the demo", markup=False)
    elif len(token) < 16:
        raise UserError(
            "a token must be at least 16 characters (generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    print(hash_token(token))
    return EXIT_OK


async def cmd_verify_audit(args: argparse.Namespace) -> int:
    store = await open_existing(args)
    try:
        report = await store.audit.verify(args.expect_head)
    finally:
        await store.close()
    if report.ok:
        out.print(f"audit log intact: {report.entries} entries; head {report.head}")
        return EXIT_OK
    err.print(f"[bold red]audit log damaged[/] ({report.entries} entries read):")
    for p in report.problems:
        err.print(f"  - {p}", markup=False)
    return EXIT_PROBLEM


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from cli.migrate_store_cmd import run

    return run(args.source, args.target, as_json=args.json)


def cmd_protocol_schema(args: argparse.Namespace) -> int:
    from feed.protocol import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def register(add: Add) -> None:
    add("init-db", cmd_init_db, "create the database, or upgrade it to the current schema (safe to repeat)")
    p = add("check-config", cmd_check_config, "validate a configuration file and name every problem")
    p.add_argument("file", metavar="FILE")
    add("show-config", cmd_show_config, "print the built-in configuration (a starting point for your own)")
    p = add("hash-token", cmd_hash_token, "print the sha256 of a token, for the users section of the configuration")
    p.add_argument("token", nargs="?", help="the token (default: read one line from standard input)")
    p = add("verify-audit", cmd_verify_audit, "check the audit log's hash chain; exit 1 if anything was altered")
    p.add_argument("--expect-head", metavar="HASH", help="also require the chain to end at this hash")
    p = add(
        "migrate-store",
        cmd_migrate_store,
        "copy a SQLite store into an empty PostgreSQL database and verify the copy; exit 1 if it differs",
    )
    p.add_argument("--from", dest="source", required=True, metavar="PATH", help="the SQLite store (read only)")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://USER@HOST:PORT/DBNAME")
    p.add_argument("--json", action="store_true", help="the verification report as JSON")
    add("protocol-schema", cmd_protocol_schema, "print the JSON Schema of the feed protocol")
