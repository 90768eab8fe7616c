"""The login screen of the console served in a browser (`opscentre console --serve`).

textual-serve starts one console process per browser session; that process is never given a
token (not in its command, its environment or a URL). It opens on this screen, which asks for the
operator's token with a password input; the app then connects to the feed with it, and the feed
alone decides: a welcome (with the token's user and role) closes the screen, a refusal is shown
here and another token may be typed. Roles and token rules are therefore exactly the terminal's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Label

from console.i18n import t
from console.state import Disconnected

if TYPE_CHECKING:
    from console.app import OpscentreApp


class LoginScreen(Screen[None]):
    """``#login-input`` (a password input) and ``#login-hint`` (what happened to the last try)."""

    def __init__(self, lang: str) -> None:
        super().__init__(id="login")
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Label(t("login.title", self.lang), id="login-title")
            yield Label(t("login.prompt", self.lang))
            yield Input(password=True, id="login-input")
            yield Label(t("login.hint", self.lang), id="login-hint")

    def on_mount(self) -> None:
        self.query_one("#login-input", Input).focus()

    def say(self, key: str, **values: object) -> None:
        self.query_one("#login-hint", Label).update(t(key, self.lang, **values))

    @on(Input.Submitted, "#login-input")
    def submitted(self, event: Input.Submitted) -> None:
        token = event.value.strip()
        if not token:
            self.say("login.empty")
            return
        event.input.disabled = True
        self.say("login.checking")
        app: OpscentreApp = self.app  # type: ignore[assignment]
        app.log_in(token)

    def ended(self, disconnected: Disconnected) -> None:
        """The attempt's connection ended before a welcome: refused (type another token), or the
        feed is unreachable (the client retries with the same token; another may be typed)."""
        box = self.query_one("#login-input", Input)
        box.disabled = False
        if disconnected.terminal:
            box.value = ""
            self.say("login.refused", reason=disconnected.reason)
        else:
            self.say("login.unreachable", reason=disconnected.reason, seconds=disconnected.retry_in or 0)
        box.focus()
