"""Whatever a client puts in a query or a command, the server answers it with a result or a clear
error: never `internal`, never a traceback in its log, never a 1011 close (hypothesis generates the
messages from the protocol's own models, so a query or command added later is covered too).

A real feed server over a real seeded store, in a thread of its own; a real WebSocket client.
Bounded in examples and time, and in the slow tier (`-m slow`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from feed.protocol import Command, Query
from tests.consolekit import ServerThread, token

pytestmark = pytest.mark.slow

UTC7 = timezone(timedelta(hours=7))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
INSTANTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(3000, 1, 1)),
    st.sampled_from([None, UTC, UTC7]),
)
PERIODS = st.sampled_from(["2024", "2024-Q1", "2024-Q5", "2024-01", "2024-13", "2024-01-31", "2024-02-30", ""])
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "indicator": st.sampled_from(["CPI_YOY", "EXPORTS", "PORTAL_VISITS", "NOPE", ""]),
    "area": st.sampled_from(["VN", "01", "79", "99", ""]),
    "source": st.sampled_from(["nso", "mof", "portal", "nope"]),
    "agency": st.sampled_from(["NSO", "MOF", "nope"]),
    "as_of": INSTANTS,
    "ends_at": INSTANTS,
    "since": PERIODS | INSTANTS,
    "period": PERIODS,
    "limit": st.integers(-5, 2000),
    "alert_id": st.integers(-1, 50),
    "silence_id": st.integers(-1, 50),
    "observation_id": st.integers(-1, 500),
    "duration": st.integers(-60, 40 * 24 * 3600),
    "states": st.lists(st.sampled_from(["pending", "firing", "acknowledged", "resolved", "x"]), max_size=5),
    "severities": st.lists(st.sampled_from(["info", "warning", "critical", "x"]), max_size=4),
    "match": st.dictionaries(st.sampled_from(["rule", "subject", "source", "area", "nope"]), JSON, max_size=3),
    "comment": st.text(max_size=30),
    "note": st.text(max_size=30),
}


def kinds(union: Any) -> list[Any]:
    """The models of a field's union (pydantic keeps ``A | B | ...``, the discriminator aside)."""
    return [m for m in get_args(union) if hasattr(m, "model_fields")]


def bodies(models: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A query's or a command's body: its name, and any of its fields with a plausible or any value."""

    def one(model: Any) -> st.SearchStrategy[dict[str, Any]]:
        name = model.model_fields["name"].default
        fields = [f for f in model.model_fields if f != "name"]
        # Either every field, each plausible (a known indicator, a period, an instant with or
        # without a zone), so the deep paths are reached; or any of them with any JSON at all.
        whole = st.fixed_dictionaries({f: PLAUSIBLE.get(f, JSON) for f in fields})
        some = st.fixed_dictionaries({}, optional={f: PLAUSIBLE.get(f, JSON) | JSON for f in fields})
        return (whole | some).map(lambda v: {"name": name, **v})

    return st.one_of([one(m) for m in models])


QUERY_KINDS = kinds(Query.model_fields["query"].annotation)
COMMAND_KINDS = kinds(Command.model_fields["command"].annotation)
QUERIES = bodies(QUERY_KINDS)
COMMANDS = bodies(COMMAND_KINDS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("properties") / "ops.db"
    # No rate limit: every generated message is answered (the limits have tests of their own).
    with ServerThread(path, collector=False, queries_per_minute=1_000_000, commands_per_minute=1_000_000) as srv:
        yield srv


@pytest.fixture(scope="module")
def ws(server: ServerThread) -> Iterator[ClientConnection]:
    assert server.server is not None
    url = f"ws://127.0.0.1:{server.server.port}/feed"
    with connect(url, additional_headers={"Authorization": f"Bearer {token('admin')}"}, open_timeout=30) as conn:
        conn.send(json.dumps({"type": "hello", "filter": {}}))
        yield conn


def answer(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    """Send ``message``; the result or error that answers it (deltas and heartbeats between are skipped)."""
    ws.send(json.dumps(message))
    for _ in range(1000):
        reply = json.loads(ws.recv(timeout=30))
        if reply.get("id") == message["id"] and reply["type"] in ("result", "error"):
            return dict(reply)
    raise AssertionError(f"no answer to {message}")


COUNT = iter(range(10**9))


@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=QUERIES)
def test_no_query_gets_internal(ws: ClientConnection, body: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        reply = answer(ws, {"type": "query", "id": f"q{next(COUNT)}", "query": body})
    assert reply.get("code") != "internal", (body, reply)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=COMMANDS)
def test_no_command_gets_internal(ws: ClientConnection, body: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    n = next(COUNT)
    with caplog.at_level(logging.ERROR):
        reply = answer(ws, {"type": "command", "id": f"c{n}", "idempotency_key": f"key-{n:08d}", "command": body})
    assert reply.get("code") != "internal", (body, reply)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_the_connection_outlived_every_generated_message(ws: ClientConnection, server: ServerThread) -> None:
    """Last in the module: after every query and command above, the same connection still answers."""
    reply = answer(ws, {"type": "query", "id": "last", "query": {"name": "catalogue"}})
    assert reply["type"] == "result"
    assert ws.close_code is None


def test_a_history_as_of_without_a_zone_is_invalid_not_internal(ws: ClientConnection) -> None:
    """The case that reached `internal` (a ValueError in the store): the same rule as subscribe's."""
    reply = answer(
        ws,
        {"type": "query", "id": "h", "query": {"name": "history", "indicator": "CPI_YOY", "as_of": "2026-01-01T00:00"}},
    )
    assert (reply["type"], reply["code"]) == ("error", "invalid")
    assert "no time zone" in reply["message"]


def test_the_generators_draw_every_query_and_command() -> None:
    queries = {m.model_fields["name"].default for m in QUERY_KINDS}
    commands = {m.model_fields["name"].default for m in COMMAND_KINDS}
    assert queries == {
        "history",
        "runs",
        "provenance",
        "alerts",
        "silences",
        "catalogue",
        "sources",
        "reporting",
        "briefings",
    }
    assert commands == {"collect", "acknowledge", "silence", "unsilence"}
