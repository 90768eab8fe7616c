"""The console served in a browser, without the browser: the login screen in the Textual pilot (a display
token logs in read-only; a dead feed is said) and `console --serve`'s refusals (the browser test:
tests/test_console_served_browser.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from console.app import OpscentreApp
from console.login import LoginScreen
from feed.protocol import Role
from tests.conftest import run_cli
from tests.consolekit import QUICK_PACE, seeded_server
from tests.feedkit import TOKENS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def log_in(app: OpscentreApp, pilot: object, token: str) -> None:
    box = app.screen.query_one("#login-input")
    box.value = token  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]


async def test_a_display_token_logs_in_read_only_and_a_dead_feed_is_said(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "centre.db", collector=False) as (server, _):
        app = OpscentreApp(server.url, None, lang="en", backoff=(0.1, 0.5), pace=QUICK_PACE, login=True)
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, LoginScreen) and not app.feed.connected  # no token, no connection
            await pilot.press("enter")
            assert "Type your token" in str(app.screen.query_one("#login-hint").render())
            await log_in(app, pilot, TOKENS["display"])
            # The welcome closes the login screen at once; the state takes it with the next batch it applies.
            for _ in range(200):
                if not isinstance(app.screen, LoginScreen) and app.role is not None:
                    break
                await pilot.pause(0.05)
            assert app.role is Role.DISPLAY and not app.may(Role.OPERATOR)  # the feed's role: read only
    app = OpscentreApp(f"ws://127.0.0.1:{free_port()}/feed", None, lang="en", backoff=(5.0, 5.0), login=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(app, pilot, TOKENS["operator"])
        hint = app.screen.query_one("#login-hint")
        while "Cannot reach the feed" not in str(hint.render()):
            await pilot.pause(0.05)
        assert isinstance(app.screen, LoginScreen)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),
        (["--host", "ops.example"], "--host ops.example is not a loopback address"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--token-file", "t.txt"], "--token-file goes without --serve and --login"),
        (["--url", "http://127.0.0.1:8765/feed"], "--url must be a ws:// or wss:// address"),
    ],
)
def test_serving_refuses_what_it_cannot_do_safely(args: list[str], said: str) -> None:
    done = run_cli("console", "--serve", *args)
    assert done.returncode == 2 and said in " ".join(done.stderr.split()), done.stderr


def test_the_serving_options_go_with_serve() -> None:
    done = run_cli("console", "--port", "8766")
    assert done.returncode == 2 and "go with --serve" in done.stderr, done.stderr


def test_a_busy_port_is_said_plainly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("console", "--serve", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"cannot serve the console on 127.0.0.1:{port}: Address already in use" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
