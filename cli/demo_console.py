"""`opscentre demo --console`: the demo (simulated agencies, collectors, the live feed) in the
background of this process, and the operators' console in the foreground, on its feed.

The terminal belongs to the console: what the demo prints and logs goes to a log file instead
(a line written to the terminal under a full-screen app would tear its screen). Quitting the
console stops the demo cleanly; so does SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from rich.console import Console

from cli.config import Config
from cli.console_cmd import ConsoleUnavailable, console_token
from cli.demo import run_demo


async def run_demo_with_console(
    config: Config,
    db_path: str,
    terminal: Console,
    *,
    sim_port: int,
    log_path: Path,
    token_file: str | None,
    builtin: bool,
    scenario: str = "demo",
) -> int:
    from console.app import OpscentreApp  # Textual only for this command

    try:  # as `opscentre console`: --token-file, $OPSCENTRE_TOKEN, or the demo operator's on the built-in configuration
        token = console_token(token_file, builtin)
    except ConsoleUnavailable as exc:
        terminal.print(f"opscentre demo --console: {exc}", markup=False)
        return 2

    async def foreground(url: str, stop: asyncio.Event) -> None:
        app = OpscentreApp(url, token, lang=config.console.lang, keys=config.console.keys)

        async def stopped() -> None:  # SIGTERM (or SIGINT from elsewhere): the console closes too
            await stop.wait()
            app.exit()

        watcher = asyncio.create_task(stopped())
        try:
            await app.run_async()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    terminal.print(f"opscentre demo --console: the demo's log goes to {log_path}", markup=False)
    with log_path.open("a", encoding="utf-8") as log_file:
        root = logging.getLogger()
        saved = root.handlers[:]
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.handlers = [handler]
        # The demo's own lines (what `opscentre demo` prints) go to the same file.
        out = Console(file=log_file, force_terminal=False, width=120, soft_wrap=True)
        try:
            code = await run_demo(config, db_path, out, sim_port=sim_port, foreground=foreground, scenario=scenario)
        finally:
            root.handlers = saved
    if code != 0:
        terminal.print(f"the demo did not start; see {log_path}:", markup=False)
        for line in _tail(log_path):
            terminal.print(f"  {line}", markup=False)
    else:
        terminal.print("opscentre demo stopped cleanly", markup=False)
    return code


def _tail(path: Path, lines: int = 5) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[-lines:]
