"""Running the centre: the demo, the server, collections by hand, the simulated agencies, the console."""

from __future__ import annotations

import argparse
import getpass
import logging
from pathlib import Path

from cli.commands.setup import config_warnings
from cli.common import Add, UserError, config_of, db_path, err, out

SERVER_LOGGERS = ("opscentre", "storage", "collectors", "rules", "feed", "cli")


async def cmd_demo(args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    if args.console:
        from cli.demo_console import run_demo_with_console

        return await run_demo_with_console(
            config_of(args), db_path(args), out, sim_port=args.sim_port, log_path=Path(args.log),
            token_file=args.token_file, builtin=args.config is None, scenario=args.scenario,
        )  # fmt: skip
    return await run_demo(config_of(args), db_path(args), out, sim_port=args.sim_port, scenario=args.scenario)


async def cmd_serve(args: argparse.Namespace) -> int:
    from cli.runtime import serve

    config = config_of(args)
    for warning in config_warnings(config):
        err.print(f"warning: {warning}", markup=False)
    if not args.verbose:
        # A server's log says what it does: connections, slow clients closed, runs. The packages log
        # under their module names, below the root's WARNING: let their INFO lines through.
        for name in SERVER_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    return await serve(config, db_path(args), out, role=args.role)


async def cmd_collect(args: argparse.Namespace) -> int:
    from collectors.pipeline import UnknownSource

    if not (args.source or args.agency or args.all):
        raise UserError("say what to collect: --source NAME, --agency CODE or --all")
    config = config_of(args)
    if args.local:
        from cli.runtime import collect

        try:
            return await collect(
                config, db_path(args), out, source=args.source, agency=args.agency, everything=args.all,
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


def cmd_simulate(args: argparse.Namespace) -> int:
    import simulator

    argv = ["--host", args.host, "--port", str(args.port), "--seed", str(args.seed)]
    if args.faults:
        argv += ["--faults", args.faults]
    argv += ["--scenario", args.scenario, "--speed", str(args.speed)]
    return int(simulator.main(argv))


SERVE_ONLY = {"host", "port", "public_url", "allow_remote"}


def cmd_console(args: argparse.Namespace) -> int:
    from cli.console_cmd import ConsoleUnavailable, feed_target, run_console

    if args.token_file and (args.serve or args.login):
        raise UserError("--token-file goes without --serve and --login: those ask for the token on a login screen")
    if not args.serve and SERVE_ONLY & {k for k, v in vars(args).items() if v is not None and v is not False}:
        raise UserError("--host, --port, --public-url and --allow-remote go with --serve")
    try:
        if args.serve:
            return _serve_console(args, feed_target(config_of(args), args.url, args.cafile)[0])
        return run_console(
            config_of(args), url=args.url, token_file=args.token_file, builtin=args.config is None, lang=args.lang,
            cafile=args.cafile, login=args.login,
        )  # fmt: skip
    except ConsoleUnavailable as exc:
        raise UserError(str(exc)) from None


def _serve_console(args: argparse.Namespace, url: str) -> int:
    from cli.console_serve import check_bind, serve_console, session_command

    host = "127.0.0.1" if args.host is None else args.host
    port = 8766 if args.port is None else args.port
    check_bind(host, port, args.allow_remote)
    lang = args.lang or config_of(args).console.lang
    command = session_command(url=url, lang=lang, config=args.config, cafile=args.cafile)
    return serve_console(command, host=host, port=port, public_url=args.public_url)


def register(add: Add) -> None:
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
    p.add_argument("--login", action="store_true", help="ask for the token on a login screen (what --serve runs)")
    served = p.add_argument_group("in a browser (docs/console-serve.md)")
    served.add_argument("--serve", action="store_true", help="serve the console to browsers (textual-serve)")
    served.add_argument("--host", help="with --serve: address to bind (default 127.0.0.1)")
    served.add_argument("--port", type=int, help="with --serve: port (default 8766)")
    served.add_argument(
        "--public-url", metavar="URL", help="with --serve: the address browsers use (e.g. behind a TLS proxy)"
    )
    served.add_argument(
        "--allow-remote", action="store_true", help="with --serve: allow a --host that is not loopback (plain HTTP)"
    )
