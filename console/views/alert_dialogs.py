"""The alerts view's dialogs: the note of an acknowledgement, the length and reason of a silence."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from console.views.alert_texts import parse_duration, word
from feed.protocol import AlertInfo

Answer = TypeVar("Answer")  # what the dialog answers (None when cancelled)


class AlertDialog(ModalScreen[Answer | None]):
    """A dialog about one alert (``wording``: its headline, as the table shows it); Esc cancels
    (answers None)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Esc", show=False)]
    DIALOG_ID: ClassVar[str] = ""

    def __init__(self, alert: AlertInfo, lang: str, wording: str) -> None:
        super().__init__(id=self.DIALOG_ID)
        self.alert = alert
        self.lang = lang
        self.wording = wording

    def action_cancel(self) -> None:
        self.dismiss(None)


class AckDialog(AlertDialog[str]):
    """The note that goes with an acknowledgement: Enter acknowledges, Esc cancels."""

    DIALOG_ID = "ack-dialog"

    def compose(self) -> ComposeResult:
        with Vertical(id="ack-box"):
            yield Label(word("ack.title", self.lang, id=self.alert.id), id="ack-title")
            yield Label(self.wording, id="ack-alert")
            yield Input(placeholder=word("ack.note", self.lang), max_length=1000, id="ack-note")
            yield Label(word("ack.hint", self.lang), id="ack-hint")

    @on(Input.Submitted, "#ack-note")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class SilenceDialog(AlertDialog[tuple[int, str]]):
    """How long and why: Enter silences (once both are good), Esc cancels. A bad duration or an
    empty reason is said here and nothing is sent."""

    DIALOG_ID = "silence-dialog"

    def compose(self) -> ComposeResult:
        a = self.alert
        with Vertical(id="silence-box"):
            yield Label(word("silence.title", self.lang, id=a.id, rule=a.rule, subject=a.subject), id="silence-title")
            yield Label(self.wording, id="silence-alert")
            yield Input(value="2h", placeholder=word("silence.duration", self.lang), max_length=12, id="silence-for")
            yield Input(placeholder=word("silence.comment", self.lang), max_length=1000, id="silence-why")
            yield Label("", id="silence-error")
            yield Label(word("silence.hint", self.lang), id="silence-hint")

    def on_mount(self) -> None:
        self.query_one("#silence-why", Input).focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        duration = parse_duration(self.query_one("#silence-for", Input).value)
        comment = self.query_one("#silence-why", Input).value.strip()
        error = self.query_one("#silence-error", Label)
        if duration is None:
            error.update(Text(word("silence.bad_duration", self.lang), style="bold red"))
            self.query_one("#silence-for", Input).focus()
        elif not comment:
            error.update(Text(word("silence.no_comment", self.lang), style="bold red"))
            self.query_one("#silence-why", Input).focus()
        else:
            self.dismiss((duration, comment))
