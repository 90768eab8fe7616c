"""The console served in a browser (`opscentre console --serve`): a real feed server over a seeded
store, the serving command as its own process, and Debian's Chromium on the page textual-serve
renders with xterm.js. A wrong token is refused on the login screen; the operator's opens the
overview. No session is ever given a token: not in its command line, nor in its environment.

The screen's text is read from xterm.js's buffer: an init script catches the page's terminal
object when textual-serve's script stores it (``this.terminal = new Terminal(…)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.browser import TIMEOUT_MS, chromium, require_browser
from tests.consolekit import seeded_server
from tests.feedkit import TOKENS

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    if (value && value.buffer && !window.__terminal) window.__terminal = value;
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
  },
});
"""
SCREEN_TEXT = """() => {
  const t = window.__terminal;
  if (!t) return "";
  const b = t.buffer.active, lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
  return lines.join("\\n");
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the sessions textual-serve started, through their shell)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def sessions_of(pid: int) -> list[tuple[bytes, bytes]]:
    """The command line and environment of every process below ``pid``."""
    found = []
    for child in descendants(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            found.append((command, Path(f"/proc/{child}/environ").read_bytes()))
    return found


@asynccontextmanager
async def served_console(feed_url: str, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """`opscentre console --serve` on ``port``, started with an admin token in its environment
    (which its sessions must not inherit); stopped with SIGTERM."""
    exe = Path(sys.executable).with_name("opscentre")
    env = {**os.environ, "PYTHONUTF8": "1", "OPSCENTRE_TOKEN": TOKENS["admin"]}
    proc = await asyncio.create_subprocess_exec(
        str(exe), "console", "--serve", "--url", feed_url, "--port", str(port), "--lang", "en",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert f"serving the console on http://127.0.0.1:{port}" in line.decode(), line
        yield proc
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()


async def wait_text(page: object, *texts: str) -> str:
    """The terminal's text once it shows every one of ``texts``."""
    handle = await page.wait_for_function(  # type: ignore[attr-defined]
        f"(texts) => {{ const s = ({SCREEN_TEXT})(); return texts.every((x) => s.includes(x)) && s; }}",
        arg=list(texts),
        timeout=TIMEOUT_MS,
    )
    return str(await handle.json_value())


async def type_token(page: object, token: str) -> None:
    await page.keyboard.type(token)  # type: ignore[attr-defined]
    await page.keyboard.press("Enter")  # type: ignore[attr-defined]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_login_refuses_a_wrong_token_then_shows_the_overview(tmp_path: Path) -> None:
    require_browser()
    port = free_port()
    async with seeded_server(tmp_path / "centre.db", collector=False) as (server, _):
        async with served_console(server.url, port) as proc, chromium() as browser:
            context = await browser.new_context(viewport={"width": 1600, "height": 1000})
            page = await context.new_page()
            await page.add_init_script(CATCH_TERMINAL)
            await page.goto(f"http://127.0.0.1:{port}/")
            await wait_text(page, "opscentre — log in", "Your token on the feed")
            await page.locator(".xterm").click()

            await type_token(page, "not-a-token-of-anyone-at-all")
            await wait_text(page, "The feed refused it", "the token was refused")

            await type_token(page, TOKENS["operator"])
            screen = await wait_text(page, "Key national indicators", "Consumer price index")
            assert "operator-user" in screen  # the status bar: the token's user, as the feed named it
            assert "log in" not in screen

            sessions = sessions_of(proc.pid)
            assert any(b"console --login --url" in command for command, _ in sessions), sessions
            for command, environment in sessions:
                assert not any(tok.encode() in command + environment for tok in TOKENS.values()), command
            await context.close()


# --- the login screen and the command's refusals, without a browser --------------------------------
