"""Every kind of answer, as a real server sends it to a real client, validates against its model
and the published JSON Schema (tests/feedkit.py checks every message it receives so)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from collectors.config import CollectorSettings, SourceSettings
from feed.protocol import SERVER_MESSAGE, Result, ResultData
from rules.after_run import Collector
from storage import Batch, ObservationIn, Severity, Store
from tests.feedkit import Client, client, feed_server
from tests.simulator_fixtures import running
from tests.test_protocol_docs import _kinds

SKIP = ("heartbeat", "welcome", "run", "alert", "delta", "snapshot")


async def _answer(c: Client, request: dict[str, Any], status: str = "done") -> dict[str, Any]:
    await c.send(request)
    while True:
        msg = await c.until("result", timeout=30, skip=SKIP)
        if msg["id"] == request["id"] and msg["status"] == status:
            return msg


def _command(cid: str, key: str, **command: Any) -> dict[str, Any]:
    return {"type": "command", "id": cid, "idempotency_key": key, "command": command}


async def test_every_kind_of_answer_validates_against_its_model_and_the_schema(tmp_path: Path) -> None:
    kinds: set[str] = set()
    got: list[dict[str, Any]] = []
    async with running() as (sim, _):
        source = SourceSettings.model_validate(
            {"name": "vnat", "kind": "agency-json", "url": f"{sim.url}/agencies/VNAT/observations"}
            | {"agency": "VNAT", "every": "1h"}
        )
        async with await Store.open(tmp_path / "ops.db") as store:
            await store.observations.ingest(
                Batch("nso", [ObservationIn(indicator="CPI_YOY", area="VN", period="2024-05", value=3.1)])
            )
            alert = await store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi 1 lần liên tiếp")
            assert alert is not None
            ack_key = uuid.uuid4().hex
            async with Collector(store, [source], CollectorSettings(retries=0)) as runs:
                async with feed_server(tmp_path / "ops.db", store=store, runs=runs) as server:
                    async with client(server, "admin", hello={"filter": {}}) as c:
                        await c.until("snapshot")
                        obs_id = (await store.observations.history("CPI_YOY", "VN"))[0].id
                        queries: list[dict[str, Any]] = [
                            {"name": "history", "indicator": "CPI_YOY"},
                            {"name": "runs"},
                            {"name": "provenance", "observation_id": obs_id},
                            {"name": "alerts", "open_only": False},
                            {"name": "catalogue"},
                            {"name": "sources"},
                            {"name": "silences", "active_only": False},
                            {"name": "reporting"},
                            {"name": "briefings"},
                        ]
                        for i, q in enumerate(queries):
                            got.append(await _answer(c, {"type": "query", "id": f"q{i}", "query": q}))
                        collect = _command("c1", uuid.uuid4().hex, name="collect", source="vnat")
                        got.append(await _answer(c, collect, "accepted"))
                        while (msg := await c.until("result", timeout=30, skip=SKIP))["status"] != "done":
                            pass
                        got.append(msg)
                        # The same again: the same answers, from memory, under the new request id.
                        got.append(await _answer(c, {**collect, "id": "c2"}, "done"))
                        got.append(await _answer(c, _command("a1", ack_key, name="acknowledge", alert_id=alert.id)))
                        silence = {"match": {"rule": "source.failing"}, "duration": 600, "comment": "maintenance"}
                        made = await _answer(c, _command("s1", uuid.uuid4().hex, name="silence", **silence))
                        silence_id = made["data"]["silence"]["id"]
                        unsilence = _command("u1", uuid.uuid4().hex, name="unsilence", silence_id=silence_id)
                        got += [made, await _answer(c, unsilence)]
                # After a restart the key is found in the audit log: a duplicate.
                async with feed_server(tmp_path / "ops.db", store=store, runs=runs) as server:
                    async with client(server, "admin", hello={}) as c:  # the same user, the same key
                        got.append(await _answer(c, _command("a2", ack_key, name="acknowledge", alert_id=alert.id)))
    for msg in got:
        result = SERVER_MESSAGE.validate_python(msg)  # (and the schema: feedkit checked each on arrival)
        assert isinstance(result, Result)
        kinds.add(result.data.kind)
    assert kinds == _kinds(ResultData, "kind")
