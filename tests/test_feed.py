"""The live feed with real WebSocket clients over localhost: snapshot then deltas, resume without
gap or duplicate, filters, slow clients, bad input, tokens and roles."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from feed.protocol import CloseCode
from storage import Batch, ObservationIn, Severity
from tests.feedkit import TOKENS, client, feed_server

PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38"]


def obs(indicator: str, area: str, period: str, value: float, status: str = "official") -> ObservationIn:
    return ObservationIn(indicator=indicator, area=area, period=period, value=value, status=status)


def changes_of(messages: list[dict[str, Any]]) -> list[tuple[str, str, str, float]]:
    return [
        (c["indicator"], c["area"], c["period"], c["value"])
        for m in messages
        if m["type"] == "delta"
        for c in m["changes"]
    ]


async def test_snapshot_first_then_deltas(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        await store.observations.ingest(
            Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 3.1), obs("CPI_YOY", "VN", "2026-10", 3.2)])
        )
        await store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi")
        async with client(server, "display", hello={"filter": {}}) as c:
            welcome = await c.until("welcome")
            assert welcome["role"] == "display" and welcome["resumed"] is False and welcome["epoch"] == store.epoch
            snap = await c.until("snapshot")
            assert [(o["period"], o["value"]) for o in snap["observations"]] == [("2026-10", 3.2)]
            assert [a["message"] for a in snap["alerts"]] == ["Nguồn mof lỗi"]
            assert snap["seq"] == await store.events.last_seq()

            await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-11", 3.4, "provisional")]))
            delta = await c.until("delta")
            assert changes_of([delta]) == [("CPI_YOY", "VN", "2026-11", 3.4)]
            assert delta["seq"] == await store.events.last_seq()

            # A revision of the newest period arrives with the value it replaced.
            await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-11", 3.5)]))
            revised = (await c.until("delta"))["changes"][0]
            assert (revised["value"], revised["previous_value"], revised["revision"]) == (3.5, 3.4, 2)

            # A revision of an older period is told apart from the newest figure.
            await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 3.0)]))
            older = await c.until("delta")
            assert older["changes"] == [] and [(r["period"], r["value"]) for r in older["revisions"]] == [
                ("2026-09", 3.0)
            ]


async def test_heartbeats_come_every_period_to_every_client_busy_or_not(tmp_path: Path) -> None:
    """Not only to idle clients: one that gets a delta every tick gets heartbeats between them
    (docs/protocol.md, *Heartbeats*). A hello without a filter subscribes to nothing: welcome, then
    heartbeats, no snapshot, until the client subscribes."""
    async with feed_server(tmp_path / "ops.db", heartbeat=timedelta(milliseconds=300)) as server:
        store = server.store
        async with client(server, "display", hello={"filter": {}}) as busy, client(server, "display", hello={}) as bare:
            await busy.until("snapshot")
            assert (await bare.next())["type"] == "welcome"

            async def figures() -> None:
                for i in itertools.count():  # a figure every tick: the busy client is never idle long
                    await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-10", 3.0 + i / 100)]))
                    await asyncio.sleep(0.05)

            feeding = asyncio.create_task(figures())
            try:
                heard = len(busy.received)
                got = await busy.collect_until(
                    lambda m: sum(x["type"] == "heartbeat" for x in busy.received[heard:]) >= 3
                )
                beats = [i for i, m in enumerate(got) if m["type"] == "heartbeat"]
                assert all(m["type"] in ("delta", "heartbeat") for m in got)
                # Deltas between heartbeats: they came while it was busy.
                assert any(got[i]["type"] == "delta" for i in range(beats[0] + 1, beats[-1])), got
                unsubscribed = [await bare.next() for _ in range(3)]
                assert [m["type"] for m in unsubscribed] == ["heartbeat"] * 3
            finally:
                feeding.cancel()
            await bare.send({"type": "subscribe", "id": "s1", "filter": {}})
            assert (await bare.until("snapshot"))["observations"][0]["indicator"] == "CPI_YOY"


async def test_a_history_backfill_does_not_overwrite_the_newest_figure(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            # Newest first, then older months in the same payload: the delta holds the newest only.
            months = [f"2025-{m:02d}" for m in range(12, 0, -1)]
            await server.store.observations.ingest(
                Batch("nso", [obs("IIP_YOY", "VN", p, i) for i, p in enumerate(months)])
            )
            delta = await c.until("delta")
            assert changes_of([delta]) == [("IIP_YOY", "VN", "2025-12", 0)]


async def test_resume_gets_exactly_what_was_missed(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", a, "2026-10", 1.0) for a in PROVINCES[:4]]))
        async with client(server, "operator", hello={"filter": {}}) as c:
            snap = await c.until("snapshot")
            await store.observations.ingest(Batch("nso", [obs("CPI_YOY", a, "2026-10", 2.0) for a in PROVINCES[4:8]]))
            first = await c.until("delta")
            position = (first["epoch"], first["seq"])
        seen_before = {(x[0], x[1]) for x in changes_of([first])} | {
            (o["indicator"], o["area"]) for o in snap["observations"]
        }

        # While disconnected: figures, an alert and a run, one event each.
        missed = [obs("IIP_YOY", a, "2026-10", float(i)) for i, a in enumerate(PROVINCES)]
        for i in range(0, len(missed), 4):
            await store.observations.ingest(Batch("nso", missed[i : i + 4]))
        alert = await store.alerts.fire("source.failing", "vss", Severity.CRITICAL, "Nguồn vss ngắt mạch")
        assert alert is not None
        last = await store.events.last_seq()

        async with client(
            server, "operator", hello={"filter": {}, "resume": {"epoch": position[0], "seq": position[1]}}
        ) as c:
            welcome = await c.until("welcome")
            assert welcome["resumed"] is True
            got = await c.collect_until(lambda m: m.get("seq") == last and m["type"] in ("delta", "alert"))
            assert all(m["type"] in ("delta", "alert", "heartbeat") for m in got), got
            assert not any(m["type"] == "snapshot" for m in got)
            seqs = [m["seq"] for m in got if m["type"] != "heartbeat"]
            assert seqs == sorted(seqs) and seqs[0] > position[1]
            resumed = {(x[0], x[1]) for x in changes_of(got)}
            assert resumed == {(o.indicator, o.area) for o in missed}  # no gap
            assert not resumed & seen_before  # no duplicate
            assert [m["alert"]["id"] for m in got if m["type"] == "alert"] == [alert.id]
            # And it is live again afterwards.
            await store.observations.ingest(Batch("nso", [obs("GDP_GROWTH", "VN", "2026-Q3", 7.4)]))
            assert changes_of([await c.until("delta")]) == [("GDP_GROWTH", "VN", "2026-Q3", 7.4)]


@pytest.mark.parametrize("resume", [{"epoch": "not-this-one", "seq": 3}, {"epoch": "EPOCH", "seq": 10_000}])
async def test_resume_from_an_unknown_point_gets_a_fresh_snapshot(tmp_path: Path, resume: dict[str, Any]) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        await server.store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-10", 3.2)]))
        if resume["epoch"] == "EPOCH":
            resume = {**resume, "epoch": server.store.epoch}
        async with client(server, "display", hello={"filter": {}, "resume": resume}) as c:
            assert (await c.until("welcome"))["resumed"] is False
            snap = await c.until("snapshot")
            assert snap["resumed"] is False and [o["value"] for o in snap["observations"]] == [3.2]


async def test_resume_after_the_log_was_pruned_gets_a_snapshot(tmp_path: Path) -> None:
    from datetime import timedelta

    from storage.clock import utcnow

    async with feed_server(tmp_path / "ops.db") as server:
        for m in range(1, 5):
            await server.store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", f"2026-0{m}", m)]))
        await server.store.events.prune(utcnow() + timedelta(days=1))  # only the newest event is kept
        async with client(
            server, "display", hello={"filter": {}, "resume": {"epoch": server.store.epoch, "seq": 1}}
        ) as c:
            assert (await c.until("welcome"))["resumed"] is False
            assert [o["period"] for o in (await c.until("snapshot"))["observations"]] == ["2026-04"]


async def test_filters_deliver_only_matching_changes(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        flt = {"categories": ["TCNS"], "areas": ["VN"], "severities": ["critical"]}
        async with (
            client(server, "display", hello={"filter": flt}) as narrow,
            client(server, "display", hello={"filter": {}}) as wide,
        ):
            await narrow.until("snapshot")
            await wide.until("snapshot")
            await store.observations.ingest(
                Batch("x", [obs("CPI_YOY", "VN", "2026-10", 3.2), obs("BUDGET_REVENUE", "01", "2026-10", 5.0)])
            )
            await store.alerts.fire("source.rejected", "x", Severity.WARNING, "a warning")
            await store.observations.ingest(Batch("x", [obs("CREDIT_GROWTH", "VN", "2026-10", 12.1)]))
            await store.alerts.fire("source.failing", "x", Severity.CRITICAL, "a critical one")
            last = await store.events.last_seq()
            got = await narrow.collect_until(lambda m: m.get("seq") == last and m["type"] != "heartbeat")
            assert changes_of(got) == [("CREDIT_GROWTH", "VN", "2026-10", 12.1)]
            assert [m["alert"]["message"] for m in got if m["type"] == "alert"] == ["a critical one"]
            everything = await wide.collect_until(lambda m: m.get("seq") == last and m["type"] != "heartbeat")
            assert {c[0] for c in changes_of(everything)} == {"CPI_YOY", "BUDGET_REVENUE", "CREDIT_GROWTH"}
            # An agency filter follows mergers: MOF answers for MPI's indicators too.
            await narrow.send({"type": "subscribe", "filter": {"agencies": ["MOF"], "areas": ["01"]}})
            snap = await narrow.until("snapshot")
            assert [o["indicator"] for o in snap["observations"]] == ["BUDGET_REVENUE"]


async def test_a_client_that_stops_reading_is_closed_and_the_others_keep_up(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", max_queue_bytes=10_000) as server:
        store = server.store
        indicators = [
            "CPI_YOY",
            "CPI_MOM",
            "IIP_YOY",
            "RETAIL_SALES",
            "BUDGET_REVENUE",
            "EXPORTS",
            "IMPORTS",
            "NEW_ENTERPRISES",
        ]
        # The slow client reads nothing; a small receive buffer makes its backlog show sooner.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
        async with (
            client(server, "display", hello={"filter": {}}, max_queue=1, sock=sock) as slow,
            client(server, "display", hello={"filter": {}}) as fast,
        ):
            await slow.until("snapshot")
            await fast.until("snapshot")
            closed = None
            for round_ in range(600):
                period = f"{2026 + round_ // 12}-{round_ % 12 + 1:02d}"
                # Big batches of new figures; the slow client reads nothing at all.
                await store.observations.ingest(
                    Batch(
                        "x", [obs(i, a, period, round_ + 0.5) for i in indicators for a in PROVINCES * 1], payload=None
                    )
                )
                await fast.until("delta")
                if slow.ws.close_code is not None or server.metrics.slow_closes._value.get() > 0:
                    closed = round_
                    break
            assert closed is not None, "the slow client was never closed"
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await slow.next(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.TOO_SLOW
            # The fast client got every round, in order, to the last.
            last = await store.events.last_seq()
            rest = (
                await fast.collect_until(lambda m: m.get("seq") == last and m["type"] == "delta")
                if fast.received[-1]["seq"] != last
                else []
            )
            deltas = [m for m in fast.received + rest if m["type"] == "delta"]
            assert deltas[-1]["seq"] == last
            assert [d["seq"] for d in deltas] == sorted({d["seq"] for d in deltas})


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "bad_json"),
        ("[1, 2, 3]", "bad_json"),
        (json.dumps({"type": "dance"}), "bad_message"),
        (json.dumps({"type": "subscribe", "filter": {"areas": "VN"}}), "bad_message"),
        (json.dumps({"type": "subscribe", "filter": {"colours": ["red"]}}), "bad_message"),
        (json.dumps({"type": "query", "id": "q1", "query": {"name": "history", "indicator": 42}}), "bad_message"),
        (
            json.dumps(
                {"type": "command", "id": "c1", "idempotency_key": "short", "command": {"name": "collect", "all": True}}
            ),
            "bad_message",
        ),
        (json.dumps({"type": "hello", "token": "again"}), "bad_message"),
    ],
)
async def test_bad_input_gets_an_error_reply_and_the_connection_goes_on(tmp_path: Path, frame: str, code: str) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(frame)
            error = await c.until("error")
            assert error["code"] == code and error["message"]
            # Still served.
            await c.send({"type": "query", "id": "q2", "query": {"name": "runs"}})
            assert (await c.until("result"))["id"] == "q2"
            await server.store.observations.ingest(Batch("x", [obs("CPI_YOY", "VN", "2026-10", 3.2)]))
            assert changes_of([await c.until("delta")]) == [("CPI_YOY", "VN", "2026-10", 3.2)]


async def test_an_oversized_frame_closes_with_1009_and_others_are_unaffected(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", max_message_bytes=4096) as server:
        async with (
            client(server, "display", hello={"filter": {}}) as big,
            client(server, "display", hello={"filter": {}}) as other,
        ):
            await big.until("snapshot")
            await other.until("snapshot")
            await big.send(json.dumps({"type": "subscribe", "filter": {"areas": ["VN"] * 2000}}))
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await big.next()
            assert info.value.sent is not None and info.value.sent.code == 1009
            await server.store.observations.ingest(Batch("x", [obs("CPI_YOY", "VN", "2026-10", 3.2)]))
            assert changes_of([await other.until("delta")]) == [("CPI_YOY", "VN", "2026-10", 3.2)]


async def test_a_flood_of_commands_is_rate_limited_then_closed(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", commands_per_minute=6) as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            for i in range(40):
                await c.send({"type": "command", "id": f"c{i}", "idempotency_key": f"flood-key-{i:04d}",
                              "command": {"name": "acknowledge", "alert_id": 999}})  # fmt: skip
            codes = []
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    m = await c.next()
                    if m["type"] == "error":
                        codes.append(m["code"])
            assert "rate_limited" in codes and "not_found" in codes
            assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.RATE_LIMITED
        async with client(server, "operator", hello={"filter": {}}) as again:
            assert (await again.until("welcome"))["user"] == "operator-user"


async def test_wrong_or_missing_tokens_are_refused(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", auth_deadline=0.5) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.url, additional_headers={"Authorization": "Bearer not-a-real-token"}):
                pass
        assert info.value.response.status_code == 401

        for hello in ({"type": "hello"}, {"type": "hello", "token": "wrong-token-0123456789"}):
            async with connect(server.url) as ws:  # a browser: no header, token in the first message
                await ws.send(json.dumps(hello))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAUTHENTICATED

        async with connect(server.url) as ws:  # says nothing: closed when the deadline passes
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAUTHENTICATED

        async with client(server, "display", header=False, hello={"filter": {}}) as browser:
            assert (await browser.until("welcome"))["role"] == "display"


async def test_tokens_are_refused_in_urls_and_origins_are_checked(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", allowed_origins=["https://wall.example.gov.vn"]) as server:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{base}/feed?token={TOKENS['admin']}")
            assert response.status_code == 400
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.url, origin="https://evil.example.com"):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403
        async with connect(server.url, origin="https://wall.example.gov.vn") as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "hello", "token": TOKENS["display"]}))
            assert json.loads(await ws.recv())["type"] == "welcome"
        async with connect(server.url, origin=f"http://127.0.0.1:{server.port}") as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "hello", "token": TOKENS["display"]}))
            assert json.loads(await ws.recv())["type"] == "welcome"


@pytest.mark.parametrize(
    "query",
    [
        f"token={TOKENS['admin']}",
        f"tok%65n={TOKENS['admin']}",  # the name percent-encoded
        f"x={TOKENS['admin']}",  # a real token under any name
        "jwt=eyJhbGciOiJIUzI1NiJ9.e30.x",
        "TOKEN=a&b=c",
        "",  # a bare '?'
    ],
)
async def test_no_url_takes_a_query_string_so_none_carries_a_token(tmp_path: Path, query: str) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        async with httpx.AsyncClient() as http:
            for path in ("/feed", "/display", "/healthz", "/metrics"):
                response = await http.get(f"http://127.0.0.1:{server.port}{path}?{query}")
                assert response.status_code == 400, (path, query)
                assert "no query string" in response.text
            # The open data alone takes parameters, each of a known set: these are none of them.
            if query:
                sdmx = "/sdmx/v2/data/dataflow/VN_OPSC/OPSC_FIGURES/1.0.0/*"
                headers = {"Authorization": f"Bearer {TOKENS['admin']}"}
                response = await http.get(f"http://127.0.0.1:{server.port}{sdmx}?{query}", headers=headers)
                assert response.status_code == 400, (sdmx, query)
                assert "tokens never go in URLs" in response.text
                assert TOKENS["admin"] not in response.text
        if not query:
            return  # a bare '?': the WebSocket client sends none (nothing to carry a token)
        with pytest.raises(InvalidStatus) as info:  # a WebSocket handshake too, with a good header
            async with connect(
                f"{server.url}?{query}", additional_headers={"Authorization": f"Bearer {TOKENS['admin']}"}
            ):
                pass
        assert info.value.response.status_code == 400
        assert server.metrics.connections.labels(role="admin")._value.get() == 0


async def test_roles_display_cannot_act_operator_acknowledges_and_it_is_audited(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        alert = await store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi")
        assert alert is not None
        ack = {
            "type": "command",
            "id": "a1",
            "idempotency_key": "ack-0001-xyz",
            "command": {"name": "acknowledge", "alert_id": alert.id, "note": "đã gọi Bộ Tài chính"},
        }
        collect = {
            "type": "command",
            "id": "r1",
            "idempotency_key": "run-0001-xyz",
            "command": {"name": "collect", "all": True},
        }
        async with client(server, "display", hello={"filter": {}}) as display:
            await display.until("snapshot")
            for command in (ack, collect):
                await display.send(command)
                error = await display.until("error", skip=("heartbeat", "alert", "delta", "run"))
                assert error["code"] == "forbidden" and error["id"] == command["id"]
        assert (await store.alerts.listed())[0].state.value == "firing"
        async with client(server, "operator", hello={"filter": {}}) as operator:
            await operator.until("snapshot")
            await operator.send(collect)
            assert (await operator.until("error"))["code"] == "forbidden"
            await operator.send(ack)
            result = await operator.until("result", skip=("heartbeat", "alert"))
            assert result["ok"] and result["data"]["alert"]["state"] == "acknowledged"
            await operator.send({**ack, "id": "a2"})  # the same command again: answered, not redone
            again = await operator.until("result", skip=("heartbeat", "alert"))
            assert again["id"] == "a2" and again["data"]["alert"]["acknowledged_by"] == "operator-user"
        entries = await store.audit.entries()
        assert [(e.actor, e.action) for e in reversed(entries)] == [
            ("display-user", "acknowledge.refused"),
            ("display-user", "collect.refused"),
            ("operator-user", "collect.refused"),
            ("operator-user", "alert.acknowledge"),
        ]
        assert (
            entries[0].details["note"] == "đã gọi Bộ Tài chính"
            and entries[0].details["idempotency_key"] == "ack-0001-xyz"
        )
        assert (await store.audit.verify()).ok


async def test_queries_history_runs_provenance_alerts(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        await store.observations.ingest(
            Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 3.1, "provisional")], payload=b'{"raw": 1}')
        )
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 3.0)], payload=b'{"raw": 2}'))
        async with client(server, "display", hello={}) as c:
            await c.until("welcome")
            await c.send({"type": "query", "id": "h", "query": {"name": "history", "indicator": "CPI_YOY"}})
            history = (await c.until("result"))["data"]["observations"]
            assert [(o["period"], o["value"], o["revision"]) for o in history] == [("2026-09", 3.0, 2)]
            await c.send(
                {"type": "query", "id": "p", "query": {"name": "provenance", "observation_id": history[0]["id"]}}
            )
            prov = (await c.until("result"))["data"]
            assert [r["value"] for r in prov["revisions"]] == [3.1, 3.0]
            assert prov["payload"]["size"] == len(b'{"raw": 2}') and len(prov["payload"]["sha256"]) == 64
            await c.send({"type": "query", "id": "x", "query": {"name": "history", "indicator": "NOPE"}})
            assert (await c.until("error"))["code"] == "not_found"
            await c.send({"type": "query", "id": "y", "query": {"name": "provenance", "observation_id": 999}})
            assert (await c.until("error"))["code"] == "not_found"


async def test_http_endpoints_beside_the_feed(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        base = f"http://127.0.0.1:{server.port}"
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await server.store.observations.ingest(Batch("x", [obs("CPI_YOY", "VN", "2026-10", 3.2)]))
            await c.until("delta")
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{base}/healthz")).text == "ok\n"
                ready = await http.get(f"{base}/readyz")
                assert ready.status_code == 200
                metrics = (await http.get(f"{base}/metrics")).text
                assert 'opscentre_feed_connections{role="display"} 1.0' in metrics
                assert "opscentre_feed_messages_sent_total" in metrics
                assert f"opscentre_events_seq {float(await server.store.events.last_seq())}" in metrics
                page = await http.get(f"{base}/display")
                assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
                assert (await http.get(f"{base}/nothing")).status_code == 404
                plain = await http.get(f"{base}/feed")
                assert plain.status_code == 426  # not a WebSocket upgrade


async def test_every_plain_http_answer_says_the_connection_closes(tmp_path: Path) -> None:
    """The server closes the connection after a plain HTTP answer; unless it says so, a keep-alive
    client (a load balancer's health check, httpx) sends its next request on the closed connection
    and gets "server disconnected" now and then."""
    async with feed_server(tmp_path / "ops.db") as server:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(follow_redirects=False) as http:
            for path in ("/healthz", "/readyz", "/metrics", "/", "/display", "/nothing", "/feed", "/x?token=1"):
                answer = await http.get(f"{base}{path}")
                assert answer.headers.get("connection") == "close", (path, answer.status_code, answer.headers)
            # One client, one request after another: each on a fresh connection, none refused.
            statuses = [(await http.get(f"{base}/healthz")).status_code for _ in range(50)]
            assert statuses == [200] * 50


async def test_readiness_reports_what_is_not_ready(tmp_path: Path) -> None:
    from feed.config import FeedSettings
    from feed.server import FeedServer
    from storage import Store
    from tests.feedkit import USERS

    store = await Store.open(tmp_path / "ops.db")

    async def scheduler_down() -> str | None:
        return "scheduler: not running"

    server = FeedServer(store, FeedSettings(port=0), USERS, ready_checks=[scheduler_down])
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{server.port}/readyz")
        assert ready.status_code == 503 and "scheduler: not running" in ready.text
    finally:
        await server.stop()
        await store.close()


async def test_server_shutdown_closes_clients_with_1001(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await server.stop()
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await c.next()
            assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.GOING_AWAY
        await asyncio.sleep(0)


async def test_tls_feed_with_a_certificate_from_the_configuration(tmp_path: Path) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    async with feed_server(tmp_path / "ops.db", tls_cert=cert_file, tls_key=key_file) as server:
        assert server.url.startswith("wss://")
        trust = ssl.create_default_context(cafile=str(ca_file))
        async with client(server, "display", hello={"filter": {}}, ssl=trust) as c:
            assert (await c.until("welcome"))["role"] == "display"
        with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate is refused
            async with connect(server.url, ssl=ssl.create_default_context()):
                pass
        async with httpx.AsyncClient(verify=trust) as http:
            assert (await http.get(f"https://127.0.0.1:{server.port}/healthz")).text == "ok\n"


async def test_no_token_ever_reaches_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    async with feed_server(tmp_path / "ops.db", auth_deadline=0.5) as server:
        async with client(server, "operator", header=False, hello={"filter": {}}) as browser:
            await browser.until("snapshot")
            await browser.send({"type": "hello", "token": TOKENS["admin"]})  # a second hello, refused
            await browser.until("error")
        with pytest.raises(InvalidStatus):
            async with connect(server.url, additional_headers={"Authorization": "Bearer wrong-token-0123456789"}):
                pass
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": "another-wrong-token-0123"}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{server.port}/feed?token={TOKENS['display']}")
    # The server's records (the test's own clients, httpx and websockets.client, log what they send).
    client_side = ("websockets.client", "httpx", "httpcore")
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith(client_side))
    assert "connected as operator-user" in text  # logging works, and names users
    for secret in [*TOKENS.values(), "wrong-token-0123456789", "another-wrong-token-0123"]:
        assert secret not in text


async def test_resume_replays_every_missed_figure_in_seq_order(tmp_path: Path) -> None:
    """A wall screen's counter ticked five times while it was away: it gets all five, not the last."""
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        async with client(server, "display", hello={"filter": {}}) as c:
            snap = await c.until("snapshot")
            position = (snap["epoch"], snap["seq"])
        instants = [f"2026-11-23T12:00:{s:02d}Z" for s in range(0, 50, 10)]
        for i, instant in enumerate(instants):
            await store.observations.ingest(Batch("portal", [obs("PORTAL_VISITS", "VN", instant, 1000.0 + i)]))
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-10", 3.2)]))
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 3.0)]))  # back-filled: history
        backfill = await store.events.last_seq()
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-10", 3.3)]))  # the newest revised
        await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", "2026-09", 2.9)]))  # an older period revised
        last = await store.events.last_seq()
        resume = {"epoch": position[0], "seq": position[1]}
        async with client(server, "display", hello={"filter": {}, "resume": resume}) as c:
            welcome = await c.until("welcome")
            assert welcome["resumed"] is True and welcome["seq"] == last
            got = [m for m in await c.collect_until(lambda m: m.get("seq") == last) if m["type"] != "heartbeat"]
            # One message per event, in order; only the back-filled older period is left out (as live).
            assert [m["seq"] for m in got] == [s for s in range(position[1] + 1, last + 1) if s != backfill]
            assert [m["type"] for m in got] == ["delta"] * len(got)
            assert [(ch["period"], ch["value"]) for m in got for ch in m["changes"]] == [
                *[(instant, 1000.0 + i) for i, instant in enumerate(instants)],
                ("2026-10", 3.2),
                ("2026-10", 3.3),
            ]
            assert [(r["period"], r["value"]) for m in got for r in m["revisions"]] == [("2026-09", 2.9)]


async def test_a_resume_too_far_behind_gets_a_snapshot(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", resume_max_events=3) as server:
        store = server.store
        seq = await store.events.last_seq()
        for m in range(1, 5):
            await store.observations.ingest(Batch("nso", [obs("CPI_YOY", "VN", f"2026-0{m}", m)]))
        async with client(server, "display", hello={"filter": {}, "resume": {"epoch": store.epoch, "seq": seq}}) as c:
            assert (await c.until("welcome"))["resumed"] is False
            assert [o["period"] for o in (await c.until("snapshot"))["observations"]] == ["2026-04"]
        async with client(
            server, "display", hello={"filter": {}, "resume": {"epoch": store.epoch, "seq": seq + 1}}
        ) as c:
            assert (await c.until("welcome"))["resumed"] is True
            got = await c.collect_until(lambda m: m.get("seq") == seq + 4)
            assert [ch["period"] for m in got if m["type"] == "delta" for ch in m["changes"]] == [
                "2026-02",
                "2026-03",
                "2026-04",
            ]


async def test_a_long_resume_is_replayed_at_the_clients_pace_not_closed_as_slow(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", max_queue_bytes=10_000) as server:
        store = server.store
        start = await store.events.last_seq()
        instants = [f"2026-11-23T{h:02d}:{m:02d}:00Z" for h in range(10, 14) for m in range(60)]  # 240 ticks
        for i in range(0, len(instants), 4):
            await store.observations.ingest(
                Batch("portal", [obs("PORTAL_VISITS", "VN", t, float(n)) for n, t in enumerate(instants[i : i + 4], i)])
            )
        last = await store.events.last_seq()
        assert last - start == len(instants)
        async with client(server, "display", hello={"filter": {}, "resume": {"epoch": store.epoch, "seq": start}}) as c:
            assert (await c.until("welcome"))["resumed"] is True
            got = await c.collect_until(lambda m: m.get("seq") == last, timeout=60)
            values = [ch["value"] for m in got if m["type"] == "delta" for ch in m["changes"]]
            assert values == [float(n) for n in range(len(instants))]
        assert server.metrics.slow_closes._value.get() == 0


async def test_the_hub_stops_at_once_when_a_commit_wakes_it_as_it_is_cancelled(tmp_path: Path) -> None:
    """Python 3.11's asyncio.wait_for returns the inner result, swallowing the cancellation, when the
    two meet: the tick loop went on after the stop (a test's teardown once hung 300 s under load).
    Here a commit's wake-up and the stop meet on purpose; no tick may run once the stop began."""
    async with feed_server(tmp_path / "ops.db") as server:
        hub = server.hub
        await asyncio.sleep(0.3)  # the tick loop is waiting for a commit
        after_stop: list[int] = []
        fan_out = hub.fan_out

        async def counted() -> None:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                after_stop.append(task.cancelling())
            await fan_out()

        hub.fan_out = counted  # type: ignore[method-assign]
        hub._wake.set()  # a commit, heard as the stop comes
        async with asyncio.timeout(10):
            await hub.stop()
        assert after_stop == []
        assert all(task.done() for task in hub._tasks)
