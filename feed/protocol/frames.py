"""Server to client: welcome, snapshot, delta, alert, run, result, error and heartbeat. Those that
come from the event log carry ``epoch`` and ``seq``, the place a client resumes from."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from feed.protocol.answers import ResultData
from feed.protocol.codes import PROTOCOL_VERSION, ErrorCode, Role
from feed.protocol.records import AlertInfo, Change, Filter, Message, RunInfo


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    server_version: str
    user: str
    role: Role
    epoch: str
    seq: int  # the newest event now
    resumed: bool = False  # true: the events missed since the client's (epoch, seq) follow, nothing else


class Snapshot(Message):
    """The state for the subscription's filter, exactly as of ``seq``; deltas follow from there."""

    type: Literal["snapshot"] = "snapshot"
    epoch: str
    seq: int
    resumed: Literal[False] = False
    filter: Filter
    as_of: datetime | None = None  # set: the centre as known at that instant; no deltas follow it
    observations: list[Change]
    alerts: list[AlertInfo]
    runs: list[RunInfo]


class Delta(Message):
    """Changes up to ``seq`` that match the filter, coalesced per series.

    ``changes``: the newest figure of each series that changed (a figure for an older period than
    the series' newest never appears here). ``revisions``: figures of older periods that were
    revised, newest revision per period. A client replaces what it holds for a series only with a
    change whose (period, revision) is not older than its own.
    """

    type: Literal["delta"] = "delta"
    epoch: str
    seq: int
    changes: list[Change]
    revisions: list[Change] = []


class AlertMessage(Message):
    type: Literal["alert"] = "alert"
    epoch: str
    seq: int
    alert: AlertInfo


class RunStatus(Message):
    type: Literal["run"] = "run"
    epoch: str
    seq: int
    event: Literal["started", "finished"]
    run: RunInfo


class Result(Message):
    """The answer to a command or query (``id`` is the request's). A collect command is answered
    twice: ``status: accepted`` at once, ``status: done`` with every run's result at the end."""

    type: Literal["result"] = "result"
    id: str
    ok: bool = True
    status: Literal["accepted", "done"] = "done"
    data: ResultData


class Error(Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    id: str | None = None  # the request it answers, if any


class Heartbeat(Message):
    """Every few seconds: the server is alive, and ``seq`` is the client's position (every event
    up to it that matches the filter has been delivered; after a snapshot of the past, its seq)."""

    type: Literal["heartbeat"] = "heartbeat"
    epoch: str
    seq: int
    time: datetime


ServerMessage = Annotated[
    Welcome | Snapshot | Delta | AlertMessage | RunStatus | Result | Error | Heartbeat, Field(discriminator="type")
]
SERVER_MESSAGE: TypeAdapter[Welcome | Snapshot | Delta | AlertMessage | RunStatus | Result | Error | Heartbeat] = (
    TypeAdapter(ServerMessage)
)
