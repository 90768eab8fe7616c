"""`opscentre`: one entry point, one subcommand per job. `opscentre COMMAND --help` explains each."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli.config import Config, ConfigError, builtin_text, load
from feed.config import hash_token
from storage import Observation, Store, StoreError
from storage.clock import parse_moment
from storage.dialect import dialect_for
from storage.migrations import LATEST, schema_version
from storage.pg.adapter import shown
from wording import decimals_of, label, number, unit_label

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2

# Piped output is not cut to 80 columns: tables stay one row per line for grep and friends.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""


# Each language whole: a table in Vietnamese has Vietnamese headers, statuses and units; one in
# English has English ones (names of provinces stay as the law writes them).
WORDS: dict[str, dict[str, Any]] = {
    "vi": {
        "indicator_columns": ("mã", "tên chỉ tiêu", "đơn vị", "kỳ", "lĩnh vực", "cơ quan", "cấp"),
        "levels": {"national": "toàn quốc", "provincial": "tỉnh", "national+provincial": "toàn quốc, tỉnh"},
        "indicators": lambda n: f"{n} chỉ tiêu",
        "area_columns": ("mã", "tên", "loại", "hiệu lực từ", "đến"),
        "kinds": {"nation": "toàn quốc", "city": "thành phố", "province": "tỉnh"},
        "areas": lambda n, on: f"{n} tỉnh, thành phố có hiệu lực ngày {on}",
        "history_columns": (
            "kỳ",
            "giá trị",
            "trạng thái",
            "lần",
            "nguồn",
            "thu thập lúc (UTC)",
            "lượt thu",
            "dữ liệu gốc",
        ),
        "area": "địa bàn",
        "as_of": lambda t: f", theo số liệu đã có lúc {t} UTC",
        "figures": lambda n, periods, sources: f"{n} số liệu: {periods} kỳ, {sources} nguồn",
        "no_figures": "chưa có số liệu nào cho chuỗi này",
    },
    "en": {
        "indicator_columns": ("code", "indicator", "unit", "freq", "category", "owner", "level"),
        "levels": {},
        "indicators": lambda n: f"{n} indicators",
        "area_columns": ("code", "name", "kind", "in force from", "until"),
        "kinds": {},
        "areas": lambda n, on: f"{n} provinces and cities in force on {on}",
        "history_columns": ("period", "value", "status", "rev", "source", "collected at (UTC)", "run", "payload"),
        "area": "area",
        "as_of": lambda t: f", as known at {t} UTC",
        "figures": lambda n, periods, sources: (
            f"{n} figure{'s' if n != 1 else ''}: {periods} period{'s' if periods != 1 else ''} "
            f"from {sources} source{'s' if sources != 1 else ''}"
        ),
        "no_figures": "no figures for this series yet",
    },
}


# --- helpers -----------------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    return load(args.config)


def _db_path(args: argparse.Namespace) -> str:
    # --db, else [database] url (PostgreSQL) or path (SQLite): Store.open picks the engine from it.
    return args.db or _config(args).database.target


def _exists(path: str) -> bool:
    return Path(path).exists()


def _existing_db(args: argparse.Namespace) -> str:
    path = _db_path(args)
    if path != ":memory:" and dialect_for(path).local_file and not Path(path).exists():
        raise UserError(f"no database at {path}: create it with `opscentre init-db` (or pass --db PATH)")
    return path


async def _open_existing(args: argparse.Namespace) -> Store:
    config = _config(args)
    return await Store.open(
        _existing_db(args), extra_indicators=config.indicators, source_agencies=config.source_agencies()
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def _moment(text: str) -> Any:
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


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


# --- commands ----------------------------------------------------------------------------------------


async def cmd_init_db(args: argparse.Namespace) -> int:
    path = _db_path(args)
    existed = path != ":memory:" and dialect_for(path).local_file and _exists(path)
    before = 0
    if existed:
        try:
            conn = sqlite3.connect(path)
            try:
                before = schema_version(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open the database {path}: {exc}") from None
    config = _config(args)
    store = await Store.open(path, extra_indicators=config.indicators, source_agencies=config.source_agencies())
    try:
        indicators = len(await store.indicators())
        areas = len(await store.areas_in_force(date.today()))
        version = await store.schema_version()  # each engine numbers its own migrations
    finally:
        await store.close()
    if not existed:
        out.print(
            f"created database {shown(path)} (schema version {version}; {indicators} indicators, {areas} provinces in force)"
        )
    elif before < LATEST:
        out.print(f"upgraded database {path} from schema version {before} to {LATEST}")
    else:
        out.print(f"database {shown(path)} is up to date (schema version {version}); nothing changed")
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
    for warning in config_warnings(config):
        err.print(f"warning: {warning}", markup=False)
    return EXIT_OK


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


# The demo users' tokens (see cli/default.toml): short, public, and accepted only to reproduce
# the built-in configuration's hashes.
DEMO_TOKENS = ("demo-display", "demo-operator", "demo-admin")


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


async def cmd_indicators(args: argparse.Namespace) -> int:
    store = await _open_existing(args)
    try:
        if args.category and args.category not in {c.code for c in await store.categories()}:
            raise UserError(
                f"unknown category {args.category!r}; known: {', '.join(c.code for c in await store.categories())}"
            )
        if args.agency and args.agency not in {a.code for a in await store.agencies()}:
            raise UserError(f"unknown agency {args.agency!r}; see the agencies in `opscentre indicators --json`")
        items = await store.indicators(category=args.category, agency=args.agency)
    finally:
        await store.close()
    if args.json:
        _print_json([i.model_dump(mode="json") for i in items])
        return EXIT_OK
    w = WORDS[args.lang]
    table = Table(*w["indicator_columns"])
    for i in items:
        table.add_row(
            i.code,
            i.name_vi if args.lang == "vi" else i.name_en,
            unit_label(i.unit, args.lang),
            i.frequency.value,
            i.category,
            i.owner,
            w["levels"].get(i.level.value, i.level.value),
        )
    out.print(table)
    out.print(w["indicators"](len(items)))
    return EXIT_OK


async def cmd_areas(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    store = await _open_existing(args)
    try:
        items = await store.areas_in_force(on)
    finally:
        await store.close()
    if args.json:
        _print_json([a.model_dump(mode="json") for a in items])
        return EXIT_OK
    w = WORDS[args.lang]
    table = Table(*w["area_columns"])
    for a in items:
        table.add_row(
            a.code, a.name_vi, w["kinds"].get(a.kind, a.kind), str(a.valid_from or "—"), str(a.valid_to or "—")
        )
    out.print(table)
    out.print(w["areas"](len(items), on.isoformat()))
    return EXIT_OK


async def cmd_history(args: argparse.Namespace) -> int:
    store = await _open_existing(args)
    try:
        ind = await store.indicator(args.indicator)
        if ind is None:
            raise UserError(f"unknown indicator {args.indicator!r}; list them with `opscentre indicators`")
        if not store.catalogue.areas.get(args.area):
            raise UserError(f"unknown area {args.area!r}; list them with `opscentre areas`")
        rows = await store.history(ind.code, args.area, source=args.source, as_of=args.as_of)
        # Every revision of each revised figure up to the row shown (not later ones, with --as-of):
        # listed with --revisions, and always used so that no two revisions print alike.
        earlier: dict[int, list[Observation]] = {}
        for o in rows:
            if o.revision > 1:
                every = await store.revisions(o.indicator, o.area, o.period, o.source)
                earlier[o.id] = [r for r in every if r.revision < o.revision]
    finally:
        await store.close()
    if args.json:
        items = []
        for o in rows:
            item = o.model_dump(mode="json")
            if args.revisions:
                item["earlier_revisions"] = [r.model_dump(mode="json") for r in earlier.get(o.id, [])]
            items.append(item)
        _print_json(items)
        return EXIT_OK
    lang = args.lang
    w = WORDS[lang]
    as_of = ""
    if args.as_of:
        as_of = w["as_of"](args.as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    name = ind.name_vi if lang == "vi" else ind.name_en
    out.print(f"{ind.code} — {name} ({unit_label(ind.unit, lang)}), {w['area']} {args.area}{as_of}", markup=False)
    table = Table(*w["history_columns"])
    for o in rows:
        before = [r.value for r in earlier.get(o.id, [])]
        table.add_row(
            o.period, number(o.value, lang, decimals_of(ind.code, ind.unit), apart_from=before), label(f"status.{o.status.value}", lang),
            str(o.revision), o.source, o.collected_at.strftime("%Y-%m-%d %H:%M:%S"), str(o.run_id or "—"),
            (o.payload_digest or "—")[:12],
        )  # fmt: skip
        if not args.revisions:
            continue
        for r in reversed(earlier.get(o.id, [])):
            value = number(r.value, lang, decimals_of(ind.code, ind.unit), apart_from=[*before, o.value])
            table.add_row(
                "", f"[dim]{value}[/]", f"[dim]{label(f'status.{r.status.value}', lang)}[/]", f"[dim]{r.revision}[/]",
                f"[dim]{r.source}[/]", f"[dim]{r.collected_at.strftime('%Y-%m-%d %H:%M:%S')}[/]",
                f"[dim]{r.run_id or '—'}[/]", f"[dim]{(r.payload_digest or '—')[:12]}[/]",
            )  # fmt: skip
    if rows:
        out.print(table)
        periods, sources = len({o.period for o in rows}), len({o.source for o in rows})
        out.print(w["figures"](len(rows), periods, sources))
    else:
        out.print(w["no_figures"])
    return EXIT_OK


async def cmd_alerts(args: argparse.Namespace) -> int:
    from cli.alerts_cmd import list_alerts

    store = await _open_existing(args)
    try:
        return await list_alerts(
            store, out, states=args.state or [], severities=args.severity or [], everything=args.all,
            limit=args.limit, as_json=args.json, lang=args.lang,
        )  # fmt: skip
    finally:
        await store.close()


async def cmd_silence(args: argparse.Namespace) -> int:
    from cli.alerts_cmd import AlertsError, add_silence, list_silences, parse_duration, parse_matchers, remove_silence

    try:
        if args.action == "list":
            store = await _open_existing(args)
            try:
                return await list_silences(store, out, everything=args.all, as_json=args.json)
            finally:
                await store.close()
        from cli.feed_collect import FeedUnavailable, feed_url, token_for

        try:
            token = token_for(args.token_file, builtin=args.config is None)
        except FeedUnavailable as exc:
            raise UserError(str(exc)) from None
        url = args.feed or feed_url(_config(args))
        if args.action == "add":
            if not args.comment or not args.comment.strip():
                raise UserError("say why: --comment TEXT (kept in the audit log)")
            match, duration = parse_matchers(args.match or []), parse_duration(args.duration)
            return await add_silence(
                url, token, out, match=match, duration=duration, comment=args.comment, cafile=args.cafile
            )
        return await remove_silence(url, token, out, silence_id=args.id, cafile=args.cafile)
    except AlertsError as exc:
        raise UserError(str(exc)) from None


async def cmd_reporting(args: argparse.Namespace) -> int:
    from cli.reporting_cmd import print_reporting
    from collectors.alerting import province_sources
    from feed.commands import ReportingError

    config = _config(args)
    store = await _open_existing(args)
    try:
        await print_reporting(
            store, out, rules=config.rules, indicator=args.indicator, period=args.period, agency=args.agency,
            province_sources=province_sources(config.sources), lang=args.lang, as_json=args.json,
            print_json=_print_json,
        )  # fmt: skip
    except ReportingError as exc:
        raise UserError(str(exc)) from None
    finally:
        await store.close()
    return EXIT_OK


async def cmd_verify_audit(args: argparse.Namespace) -> int:
    store = await _open_existing(args)
    try:
        report = await store.verify_audit(args.expect_head)
    finally:
        await store.close()
    if report.ok:
        out.print(f"audit log intact: {report.entries} entries; head {report.head}")
        return EXIT_OK
    err.print(f"[bold red]audit log damaged[/] ({report.entries} entries read):")
    for p in report.problems:
        err.print(f"  - {p}", markup=False)
    return EXIT_PROBLEM


async def cmd_demo(args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    if args.console:
        from cli.demo_console import run_demo_with_console

        return await run_demo_with_console(
            _config(args), _db_path(args), out, sim_port=args.sim_port, log_path=Path(args.log),
            token_file=args.token_file, builtin=args.config is None, scenario=args.scenario,
        )  # fmt: skip
    return await run_demo(_config(args), _db_path(args), out, sim_port=args.sim_port, scenario=args.scenario)


SERVER_LOGGERS = ("opscentre", "storage", "collectors", "feed", "cli")


async def cmd_serve(args: argparse.Namespace) -> int:
    from cli.runtime import serve

    config = _config(args)
    for warning in config_warnings(config):
        err.print(f"warning: {warning}", markup=False)
    if not args.verbose:
        # A server's log says what it does: connections, slow clients closed, runs. The packages log
        # under their module names, below the root's WARNING: let their INFO lines through.
        for name in SERVER_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    return await serve(config, _db_path(args), out, role=args.role)


async def cmd_collect(args: argparse.Namespace) -> int:
    from collectors.pipeline import UnknownSource

    if not (args.source or args.agency or args.all):
        raise UserError("say what to collect: --source NAME, --agency CODE or --all")
    config = _config(args)
    if args.local:
        from cli.runtime import collect

        try:
            return await collect(
                config, _db_path(args), out, source=args.source, agency=args.agency, everything=args.all,
                requested_by=f"cli:{getpass.getuser()}",
            )  # fmt: skip
        except UnknownSource as exc:
            raise UserError(str(exc)) from None
    from cli.feed_collect import FeedUnavailable, collect_via_feed, token_for

    try:
        token = token_for(args.token_file, builtin=args.config is None)
        return await collect_via_feed(
            config, out, token, source=args.source, agency=args.agency, everything=args.all, url=args.feed,
            cafile=args.cafile,
        )  # fmt: skip
    except FeedUnavailable as exc:
        raise UserError(str(exc)) from None


def cmd_protocol_schema(args: argparse.Namespace) -> int:
    from feed.protocol import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    import simulator

    argv = ["--host", args.host, "--port", str(args.port), "--seed", str(args.seed)]
    if args.faults:
        argv += ["--faults", args.faults]
    argv += ["--scenario", args.scenario, "--speed", str(args.speed)]
    return int(simulator.main(argv))


def cmd_console(args: argparse.Namespace) -> int:
    from cli.console_cmd import ConsoleUnavailable, run_console

    try:
        return run_console(
            _config(args), url=args.url, token_file=args.token_file, builtin=args.config is None, lang=args.lang,
            cafile=args.cafile,
        )  # fmt: skip
    except ConsoleUnavailable as exc:
        raise UserError(str(exc)) from None


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from cli.migrate_store_cmd import run

    return run(args.source, args.target, as_json=args.json)


def cmd_not_yet(args: argparse.Namespace) -> int:
    err.print(f"`opscentre {args.command}` is not available yet in this version.")
    return EXIT_USAGE


# --- parser --------------------------------------------------------------------------------------------


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

    add("init-db", cmd_init_db, "create the database, or upgrade it to the current schema (safe to repeat)")
    p = add("check-config", cmd_check_config, "validate a configuration file and name every problem")
    p.add_argument("file", metavar="FILE")
    add("show-config", cmd_show_config, "print the built-in configuration (a starting point for your own)")
    p = add("hash-token", cmd_hash_token, "print the sha256 of a token, for the users section of the configuration")
    p.add_argument("token", nargs="?", help="the token (default: read one line from standard input)")
    p = add("indicators", cmd_indicators, "list the indicator catalogue")
    p.add_argument("--category", help="only this category (e.g. KTVM)")
    p.add_argument("--agency", help="only indicators owned by this agency or its predecessors (e.g. NSO)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="names in Vietnamese or English")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("areas", cmd_areas, "list the provinces and centrally-run cities in force on a date")
    p.add_argument("--on", type=_date, metavar="DATE", help="YYYY-MM-DD (default: today)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="headers in Vietnamese or English")
    p.add_argument("--json", action="store_true")
    p = add("history", cmd_history, "show a series: every period's figure with its provenance")
    p.add_argument("indicator", metavar="INDICATOR")
    p.add_argument("--area", default="VN", help="area code (default: VN, the nation)")
    p.add_argument("--source", help="only figures from this source")
    p.add_argument("--as-of", type=_moment, metavar="TIME", help="the series as the centre knew it at TIME")
    p.add_argument("--revisions", action="store_true", help="also show the earlier revisions of each figure")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="number format and names")
    p.add_argument("--json", action="store_true")
    p = add("alerts", cmd_alerts, "list alerts (open ones by default) with their state, severity and muting")
    p.add_argument("--state", action="append", choices=["pending", "firing", "acknowledged", "resolved"],
                   help="only this state (repeatable); resolved ones are listed only when asked")  # fmt: skip
    p.add_argument("--severity", action="append", choices=["info", "warning", "critical"], help="only this severity")
    p.add_argument("--all", action="store_true", help="resolved alerts too")
    p.add_argument("--limit", type=int, default=200, help="at most this many, newest first (default 200)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="words and numbers in Vietnamese or English")
    p.add_argument("--json", action="store_true", help="the stored alerts, each with its text in --lang")
    p = add("reporting", cmd_reporting, "completeness of the reports per indicator: received, on time, late, missing")
    p.add_argument("--indicator", metavar="CODE", help="only this indicator")
    p.add_argument("--period", metavar="PERIOD", help="this period (2026-10, 2026-Q3, 2026); default: the newest due")
    p.add_argument("--agency", metavar="CODE", help="only indicators this agency owns (e.g. NSO)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="words in Vietnamese or English")
    p.add_argument("--json", action="store_true", help="the feed's rows (machine-readable)")
    silence_help = "mute alerts for a while (admin, through the running server), list or remove silences"
    p = add("silence", cmd_silence, silence_help)
    # --config/--db/-v also after the action; without defaults there, which would override the ones given before it
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file (TOML)")
    after.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="SQLite database file")
    after.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser(
        "add", parents=[after], help="mute matching alerts: --match NAME=VALUE ... --for 2h --comment WHY"
    )
    a.add_argument("--match", action="append", metavar="NAME=VALUE",
                   help="rule, subject, source, agency, area or indicator (repeatable: all must match)")  # fmt: skip
    a.add_argument(
        "--for", dest="duration", default="2h", metavar="DURATION", help="how long: 30m, 2h, 1d (default 2h)"
    )
    a.add_argument("--comment", metavar="TEXT", help="why (required; kept in the audit log)")
    r = actions.add_parser("remove", parents=[after], help="end a silence now")
    r.add_argument("id", type=int, metavar="ID")
    ls = actions.add_parser("list", parents=[after], help="the active silences (--all: every one)")
    ls.add_argument("--all", action="store_true")
    ls.add_argument("--json", action="store_true")
    for q in (a, r):
        q.add_argument("--feed", metavar="URL", help="feed address (default: from the configuration's [feed])")
        q.add_argument("--token-file", metavar="FILE", help="file holding the admin token (or set OPSCENTRE_TOKEN)")
        q.add_argument("--cafile", metavar="FILE", help="CA certificate to trust for a wss:// feed")
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
    p = add(
        "demo",
        cmd_demo,
        "run simulated agencies, the collectors and the live feed together (the wall page at /display)",
    )
    p.add_argument("--sim-port", type=int, default=8780, help="port of the simulated agencies (default 8780)")
    p.add_argument(  # checked by the simulator (imported only when it runs): the names are in `opscentre simulate --help`
        "--scenario",
        default="demo",
        metavar="NAME",
        help="what happens to the simulated agencies, on a compressed timeline (default demo; none: the calendar only)",
    )
    p.add_argument(
        "--console", action="store_true", help="open the operators' console on the demo (its log goes to --log)"
    )
    p.add_argument(
        "--log", metavar="FILE", default="opscentre-demo.log", help="with --console: the demo's log (%(default)s)"
    )
    p.add_argument("--token-file", metavar="FILE", help="with --console: its token (default: the demo operator's)")
    p = add(
        "serve", cmd_serve, "run the scheduler and collectors against the configured sources (Ctrl+C stops cleanly)"
    )
    p.add_argument(
        "--role",
        choices=("all", "feed", "collector"),
        default="all",
        help="all (default): collectors and feed in one process; feed: the live feed only; collector: "
        "collectors, scheduler and rule timers only (feed and collector need a PostgreSQL store)",
    )
    p = add(
        "collect",
        cmd_collect,
        "run collections by hand through the running server (as admin) and print each run's progress and result",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--source", metavar="NAME", help="one source (see the [[sources]] of the configuration)")
    which.add_argument("--agency", metavar="CODE", help="every enabled source that speaks for this agency")
    which.add_argument("--all", action="store_true", help="every enabled source")
    p.add_argument("--local", action="store_true", help="run in this process on the database, not through the feed")
    p.add_argument("--feed", metavar="URL", help="feed address (default: from the configuration's [feed])")
    p.add_argument("--token-file", metavar="FILE", help="file holding the admin token (or set OPSCENTRE_TOKEN)")
    p.add_argument("--cafile", metavar="FILE", help="CA certificate to trust for a wss:// feed")
    add("protocol-schema", cmd_protocol_schema, "print the JSON Schema of the feed protocol")
    p = add(
        "simulate",
        cmd_simulate,
        "serve simulated agency systems, SDMX and the portal over HTTP (for the demo and tests)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8780, help="port (0 picks a free one; default 8780)")
    p.add_argument("--seed", type=int, default=2020, help="series seed (same seed, same figures)")
    p.add_argument("--faults", metavar="FILE", help="TOML file of faults to inject from the start")
    p.add_argument("--scenario", default="none", metavar="NAME", help="demo, revision, late-report, ... (default none)")
    p.add_argument("--speed", type=float, default=1.0, help="the scenario's steps come this many times faster")
    # No abbreviations: `--token x` must not pass for `--token-file x` (a token never goes on the command line).
    p = add("console", cmd_console, "open the operators' console (a Textual app on the live feed)", allow_abbrev=False)
    p.add_argument(
        "--url", metavar="URL", help="feed address, ws://… or wss://… (default: from the configuration's [feed])"
    )
    p.add_argument("--token-file", metavar="FILE", help="file holding your token (or set OPSCENTRE_TOKEN)")
    p.add_argument("--lang", choices=["vi", "en"], help="language at start (default: [console] lang, else vi)")
    p.add_argument("--cafile", metavar="FILE", help="CA certificate to trust for a wss:// feed")
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
