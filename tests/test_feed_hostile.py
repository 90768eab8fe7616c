"""Hostile and careless clients over real WebSocket connections: frames built to break the parser,
idempotency keys misused, refused commands, a DNS-rebinding origin, floods, and requests that are
well-formed but cannot be done."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from collectors.breaker import BreakerState
from collectors.pipeline import SourceState
from feed.protocol import CloseCode
from storage import Batch, CollectionRun, ObservationIn, RunTrigger, Severity
from tests.feedkit import TOKENS, client, feed_server


class Sources:
    """A run service over the real store that knows two sources (the feed's narrow interface)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def select(self, *, source: str | None = None, agency: str | None = None, everything: bool = False) -> list[str]:
        if everything:
            return ["nso", "sbv"]
        if source in ("nso", "sbv"):
            return [source]
        raise KeyError(f"unknown source {source!r}; configured sources: nso, sbv")

    async def run_many(
        self, names: Any, trigger: RunTrigger = RunTrigger.MANUAL, requested_by: str | None = None
    ) -> list[CollectionRun]:
        return []

    def source_states(self) -> list[SourceState]:
        return [
            SourceState(n, "agency-json", a, True, "every 60s", BreakerState.CLOSED, None)
            for n, a in (("nso", "NSO"), ("sbv", "SBV"))
        ]


def command(cid: str, key: str, **cmd: Any) -> dict[str, Any]:
    return {"type": "command", "id": cid, "idempotency_key": key, "command": cmd}


HOSTILE = [
    pytest.param("[" * 100_000 + "]" * 100_000, "bad_json", id="deeply-nested-array"),
    pytest.param('{"a":' * 5000 + "1" + "}" * 5000, "bad_json", id="deeply-nested-object"),
    pytest.param(
        json.dumps({"type": "query", "id": "q", "query": {"name": "provenance", "observation_id": 10**30}}),
        "bad_message",
        id="huge-observation-id",
    ),
    pytest.param(
        json.dumps(command("c", "key-huge-alert-id", name="acknowledge", alert_id=10**30)),
        "bad_message",
        id="huge-alert-id",
    ),
    pytest.param(
        '{"type": "query", "id": "\\ud800", "query": {"name": "runs"}}',
        "bad_json",
        id="lone-surrogate-in-id",
    ),
    pytest.param(
        '{"type": "command", "id": "c", "idempotency_key": "key-\\udfff-0001",'
        ' "command": {"name": "acknowledge", "alert_id": 1, "note": "x"}}',
        "bad_json",
        id="lone-surrogate-in-key",
    ),
    pytest.param(
        '{"type": "query", "id": "q", "query": {"name": "history", "indicator": "CPI_YOY", "area": "\\ud83d"}}',
        "bad_json",
        id="lone-surrogate-in-area",
    ),
]


@pytest.mark.parametrize(("frame", "code"), HOSTILE)
async def test_hostile_frames_get_an_error_and_the_connection_goes_on(
    tmp_path: Path, frame: str, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with feed_server(tmp_path / "ops.db", max_message_bytes=1_000_000) as server:
        await server.store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi")
        async with client(server, "operator", hello={"filter": {}}, max_size=None) as c:
            await c.until("snapshot")
            await c.send(frame)
            error = await c.until("error")
            assert error["code"] == code and error["message"]
            # Still served: a query answered, a delta delivered.
            await c.send({"type": "query", "id": "after", "query": {"name": "runs"}})
            assert (await c.until("result"))["id"] == "after"
            await server.store.observations.ingest(Batch("x", [ObservationIn(indicator="CPI_YOY", area="VN", period="2026-10", value=3.2, status="official")]))  # fmt: skip
            assert (await c.until("delta"))["changes"][0]["value"] == 3.2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a hostile frame logged an error"
    assert not [r for r in caplog.records if r.exc_info], "a hostile frame logged a traceback"


async def test_a_text_frame_that_is_not_utf8_is_closed_with_1007_as_documented(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.ws.send(b'{"type": "query", "id": "\xff\xfe"}', text=True)
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await c.next(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.INVALID_DATA == 1007


async def test_a_failed_command_does_not_use_up_its_idempotency_key(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        alert = await server.store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi")
        assert alert is not None
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(command("a1", "ack-key-0001", name="acknowledge", alert_id=alert.id + 100))
            assert (await c.until("error"))["code"] == "not_found"
            # The retry with the key, on the real alert: done, not "duplicate".
            await c.send(command("a2", "ack-key-0001", name="acknowledge", alert_id=alert.id))
            result = await c.until("result", skip=("heartbeat", "alert"))
            assert result["id"] == "a2" and result["data"]["alert"]["state"] == "acknowledged"
        assert (await server.store.alerts.listed())[0].state.value == "acknowledged"


async def test_a_key_reused_for_a_different_command_is_an_error(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        first = await server.store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi")
        second = await server.store.alerts.fire("source.failing", "sbv", Severity.WARNING, "Nguồn sbv lỗi")
        assert first is not None and second is not None
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(command("a1", "ack-key-0002", name="acknowledge", alert_id=first.id))
            assert (await c.until("result", skip=("heartbeat", "alert")))["id"] == "a1"
            await c.send(command("a2", "ack-key-0002", name="acknowledge", alert_id=second.id))
            error = await c.until("error", skip=("heartbeat", "alert"))
            assert error["id"] == "a2" and error["code"] == "invalid" and "idempotency_key" in error["message"]
            # The same command again is still answered with its first result.
            await c.send(command("a3", "ack-key-0002", name="acknowledge", alert_id=first.id))
            again = await c.until("result", skip=("heartbeat", "alert"))
            assert again["id"] == "a3" and again["data"]["alert"]["id"] == first.id
        states = {a.id: a.state.value for a in await server.store.alerts.listed()}
        assert states == {first.id: "acknowledged", second.id: "firing"}

    # After a restart the key is known from the audit log only: still an error, still no action.
    async with feed_server(tmp_path / "ops.db") as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(command("a4", "ack-key-0002", name="acknowledge", alert_id=second.id))
            error = await c.until("error", skip=("heartbeat", "alert"))
            assert error["id"] == "a4" and error["code"] == "invalid"
            await c.send(command("a5", "ack-key-0002", name="acknowledge", alert_id=first.id))
            assert (await c.until("result", skip=("heartbeat", "alert")))["data"]["duplicate"] is True
        assert {a.id: a.state.value for a in await server.store.alerts.listed()}[second.id] == "firing"


async def test_every_refused_command_is_audited(tmp_path: Path) -> None:
    """Whatever refused it: the server's checks, the role, the rate, or the command's own shape."""
    async with feed_server(tmp_path / "ops.db", commands_per_minute=600) as server:
        server.commands.runs = Sources(server.store)
        store = server.store
        refused = {
            "r1": (command("r1", "run-key-0001", name="collect", source="nope"), "invalid"),
            "r2": (command("r2", "run-key-0002", name="collect", source="nso", all=True), "invalid"),
            "r3": (command("r3", "ack-key-0003", name="acknowledge", alert_id=4242), "not_found"),
            "r4": (command("r4", "ack-key-0004", name="acknowledge", alert_id="twelve"), "bad_message"),
            "r5": (command("r5", "key-0005", name="reboot"), "bad_message"),
            "r6": (command("r6", "sil-key-0006", name="silence", match={"rule": "x"}, duration=30, comment=""), "invalid"),
            "r7": ({"type": "command", "id": "r7", "command": {"name": "collect", "all": True}}, "bad_message"),
        }  # fmt: skip
        async with client(server, "admin", hello={"filter": {}}) as c:
            await c.until("snapshot")
            for request, code in refused.values():
                await c.send(request)
                error = await c.until("error")
                assert (error["id"], error["code"]) == (request["id"], code), error
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(command("r8", "run-key-0008", name="collect", all=True))
            assert (await c.until("error"))["code"] == "forbidden"
        async with feed_server(tmp_path / "flood.db", commands_per_minute=1) as flooded:  # bursts of 3
            async with client(flooded, "operator", hello={"filter": {}}) as c:
                await c.until("snapshot")
                for i in range(8):
                    await c.send(command(f"f{i}", f"flood-key-{i:04d}", name="acknowledge", alert_id="x"))
                codes = [(await c.until("error"))["code"] for _ in range(8)]
                assert codes == ["bad_message"] * 3 + ["rate_limited"] * 5
            flood = await flooded.store.audit.entries()
            assert [e.details["error_code"] for e in sorted(flood, key=lambda e: e.id)] == codes

        entries = {e.details["request_id"]: e for e in await store.audit.entries()}
        assert set(entries) == {*refused, "r8"}
        assert entries["r1"].actor == "admin-user" and entries["r1"].target == "source:nope"
        assert "unknown source 'nope'" in entries["r1"].details["error"]
        assert entries["r1"].action == entries["r2"].action == "collect.refused"
        assert entries["r3"].action == "acknowledge.refused" and entries["r3"].details["error_code"] == "not_found"
        assert entries["r4"].action == "acknowledge.refused" and entries["r4"].details["error_code"] == "bad_message"
        assert "alert_id" in entries["r4"].details["error"] and "twelve" in entries["r4"].details["command"]
        assert entries["r5"].action == "command.refused" and entries["r5"].details["idempotency_key"] == "key-0005"
        assert entries["r6"].action == "silence.refused" and "duration" in entries["r6"].details["error"]
        assert entries["r7"].action == "collect.refused" and "idempotency_key" in entries["r7"].details["error"]
        assert entries["r8"].actor == "display-user" and entries["r8"].details["error_code"] == "forbidden"
        assert (await store.audit.verify()).ok


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example.com:{port}", "evil.example.com"),  # DNS rebinding: Origin and Host the attacker's
        ("http://10.9.8.7:{port}", "10.9.8.7"),  # an address the server was not configured with
        ("http://evil.example.com", "127.0.0.1"),
    ],
)
async def test_an_origin_is_checked_against_the_configuration_not_the_host_header(
    tmp_path: Path, origin: str, host: str
) -> None:
    async with feed_server(tmp_path / "ops.db", allowed_origins=["https://wall.example.gov.vn"]) as server:
        # The browser names the attacker's host; the socket reaches this server on loopback.
        url = f"ws://{host}:{server.port}/feed"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, origin=origin.format(port=server.port), host="127.0.0.1", port=server.port):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403
        # The server's own page, by the configured host or a loopback name, and the allow-list still pass.
        for name, own in (
            ("127.0.0.1", f"http://127.0.0.1:{server.port}"),
            ("localhost", f"http://localhost:{server.port}"),
            ("127.0.0.1", "https://wall.example.gov.vn"),
        ):
            url = f"ws://{name}:{server.port}/feed"
            async with connect(url, origin=own, host="127.0.0.1", port=server.port) as ws:  # type: ignore[arg-type]
                await ws.send(json.dumps({"type": "hello", "token": TOKENS["display"]}))
                assert json.loads(await ws.recv())["type"] == "welcome"


async def test_a_handshake_with_two_host_headers_is_refused_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with feed_server(tmp_path / "ops.db") as server:
        for extra in ({"Host": "evil.example.com"}, {"Origin": "http://a.example", "X": "1"}):
            headers = {**extra, "Origin": "http://b.example"} if "Origin" in extra else extra
            with pytest.raises(InvalidStatus) as info:
                async with connect(server.url, origin="http://a.example", additional_headers=headers):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code in (400, 403)
    assert not [r for r in caplog.records if r.exc_info], "a bad handshake logged a traceback"


async def test_a_rate_limited_error_always_precedes_the_4029_close(tmp_path: Path) -> None:
    # Low limits, so that the bucket's refill while a loaded machine answers the flood (one token a
    # second) cannot keep the client under the closing threshold: at 600 queries a minute it could.
    async with feed_server(tmp_path / "ops.db", commands_per_minute=6, queries_per_minute=60) as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            # The whole flood at once, queries (no database write between them) after three commands.
            frames = [json.dumps(command(f"c{i}", f"flood-key-{i:04d}", name="acknowledge", alert_id=999)) for i in range(3)]  # fmt: skip
            frames += [json.dumps({"type": "query", "id": f"q{i}", "query": {"name": "alerts"}}) for i in range(400)]
            await c.ws.send(frames[0])
            for f in frames[1:]:
                await c.ws.send(f)
            got = []
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(len(frames) + 50):  # every answer, then heartbeats: never for ever
                    got.append(await c.next())
            assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.RATE_LIMITED
            assert [m for m in got if m["type"] == "error" and m["code"] == "rate_limited"]


async def test_requests_the_server_cannot_do_are_refused_as_invalid(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        server.commands.runs = Sources(server.store)
        await server.store.observations.ingest(Batch("nso", [ObservationIn(indicator="CPI_YOY", area="VN", period="2026-10", value=3.2, status="official")]))  # fmt: skip
        # resume without the filter it was subscribed with
        async with client(server, "display", hello={"resume": {"epoch": server.store.epoch, "seq": 0}}) as c:
            assert (await c.until("welcome"))["resumed"] is False
            error = await c.until("error")
            assert error["code"] == "invalid" and "filter" in error["message"]
            # Still connected and answering.
            for q, word in (
                ({"name": "history", "indicator": "CPI_YOY", "since": "last tuesday"}, "since"),
                ({"name": "history", "indicator": "CPI_YOY", "since": "2026-13"}, "since"),
                ({"name": "runs", "source": "nope"}, "nope"),
            ):
                await c.send({"type": "query", "id": "q", "query": q})
                error = await c.until("error")
                assert error["code"] == "invalid" and error["id"] == "q" and word in error["message"], error
            await c.send({"type": "query", "id": "ok", "query": {"name": "history", "indicator": "CPI_YOY", "since": "2026-01"}})  # fmt: skip
            assert [o["value"] for o in (await c.until("result"))["data"]["observations"]] == [3.2]
            await c.send({"type": "query", "id": "ok2", "query": {"name": "runs", "source": "nso"}})
            assert (await c.until("result"))["data"] == {"kind": "runs", "runs": []}
