"""`opscentre console --serve`: the same Textual console in a browser, with textual-serve.

textual-serve starts one console process per browser session (``console --login``), its screen
drawn by xterm.js in the page. Security model (docs/console-serve.md): the served command holds
the feed's address, never a token, and this process's ``OPSCENTRE_TOKEN`` is removed from what the
sessions inherit; each session asks for the operator's token on its login screen and the feed
checks it, so roles and token rules are the terminal console's. textual-serve speaks plain HTTP,
so the token typed crosses the network in clear unless something in front adds TLS: the server
binds to loopback unless ``--allow-remote`` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import shlex
import signal
import sys

from cli.common import UserError, out

TITLE = "opscentre"
# textual-serve's page asks Google for a font; the centre has no internet, and xterm.js has its own.
_EXTERNAL_FONT = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>", re.S)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_bind(host: str, port: int, allow_remote: bool) -> None:
    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    if not (is_loopback(host) or allow_remote):
        raise UserError(
            f"--host {host} is not a loopback address: the console is served over plain HTTP and the "
            "token typed on its login screen would cross the network in clear. Put a TLS proxy in "
            "front and pass --allow-remote (and --public-url https://…), see docs/console-serve.md"
        )


def session_command(*, url: str, lang: str, config: str | None, cafile: str | None) -> str:
    """What textual-serve runs per browser session: a console that asks for its token."""
    argv = [sys.executable, "-m", "cli.main", "console", "--login", "--url", url, "--lang", lang]
    if config:
        argv += ["--config", os.path.abspath(config)]
    if cafile:
        argv += ["--cafile", os.path.abspath(cafile)]
    return shlex.join(argv)


def serve_console(command: str, *, host: str, port: int, public_url: str | None) -> int:
    os.environ.pop("OPSCENTRE_TOKEN", None)  # the sessions inherit this environment: no token in it
    return asyncio.run(_serve(command, host, port, public_url))


async def _serve(command: str, host: str, port: int, public_url: str | None) -> int:
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server

    server = Server(command, host=host, port=port, title=TITLE, public_url=public_url)
    app = await server._make_app()  # textual-serve's routes, without its serve(): our errors, our output
    app.on_startup.clear()  # its banner: we say where it is served below
    page = (server.templates_path / "app_index.html").read_text(encoding="utf-8")
    aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({"app_index.html": _EXTERNAL_FONT.sub("", page)}))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            why = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's own text repeats the address
            raise UserError(f"cannot serve the console on {host}:{port}: {why}") from None
        out.print(f"serving the console on {server.public_url} (Ctrl+C stops)", markup=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()  # closes the sessions' websockets: each console is told to quit
    return 0
