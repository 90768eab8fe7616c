"""Alerts and silences, and the reports' completeness (the implementations: cli/alerts_cmd.py, cli/reporting_cmd.py)."""

from __future__ import annotations

import argparse

from cli.common import EXIT_OK, Add, UserError, config_of, open_existing, out, print_json


async def cmd_alerts(args: argparse.Namespace) -> int:
    from cli.alerts_cmd import list_alerts

    store = await open_existing(args)
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
            store = await open_existing(args)
            try:
                return await list_silences(store, out, everything=args.all, as_json=args.json)
            finally:
                await store.close()
        from cli.feed_collect import FeedUnavailable, feed_url, token_for

        try:
            token = token_for(args.token_file, builtin=args.config is None)
        except FeedUnavailable as exc:
            raise UserError(str(exc)) from None
        url = args.feed or feed_url(config_of(args))
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
    from feed.queries import ReportingError
    from rules.evaluation import province_sources

    config = config_of(args)
    store = await open_existing(args)
    try:
        await print_reporting(
            store, out, rules=config.rules, indicator=args.indicator, period=args.period, agency=args.agency,
            province_sources=province_sources(config.sources), lang=args.lang, as_json=args.json,
            print_json=print_json,
        )  # fmt: skip
    except ReportingError as exc:
        raise UserError(str(exc)) from None
    finally:
        await store.close()
    return EXIT_OK


def register(add: Add) -> None:
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
