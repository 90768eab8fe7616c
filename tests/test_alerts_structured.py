"""Structured alerts, as a real client sees them on the feed: each carries its rule, subject,
severity and typed parameters, so a client words it in its own language; the Vietnamese message
never holds a URL or an error's text, which goes to ``detail``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.config import CollectorSettings, SourceSettings
from rules import run_alerts
from rules.after_run import Collector
from simulator import Fault
from storage import Batch, ObservationIn, RunOutcome, RunTrigger, Store
from tests.feedkit import client, feed_server
from tests.simulator_fixtures import running

T0 = datetime(2024, 6, 20, tzinfo=UTC)


def _collect(source: str) -> dict[str, Any]:
    return {
        "type": "command",
        "id": f"c-{source}",
        "idempotency_key": uuid.uuid4().hex,
        "command": {"name": "collect", "source": source},
    }


async def test_a_failing_source_alert_carries_typed_params_and_keeps_the_error_as_detail(tmp_path: Path) -> None:
    fault = Fault(endpoint="/agencies/VNAT/*", kind="http_error", status=503)
    async with running(faults=[fault]) as (sim, _):
        source = SourceSettings.model_validate(
            {"name": "vnat", "kind": "agency-json", "url": f"{sim.url}/agencies/VNAT/observations", "agency": "VNAT"}
            | {"every": "1h"}
        )
        async with await Store.open(tmp_path / "ops.db") as store:
            settings = CollectorSettings(retries=0, breaker_failures=2)
            async with Collector(store, [source], settings) as runs:
                async with feed_server(tmp_path / "ops.db", store=store, runs=runs) as server:
                    async with client(server, "admin", hello={"filter": {"observations": False}}) as c:
                        await c.until("snapshot")
                        seen = []
                        for _ in range(2):
                            await c.send(_collect("vnat"))
                            msg = await c.until("alert", timeout=30, skip=("heartbeat", "run", "result", "delta"))
                            seen.append(msg["alert"])
                        down = seen[-1]  # the breaker opened on the second failure: the source is down
                        while down["rule"] != "source.down":
                            down = (await c.until("alert", timeout=30, skip=("heartbeat", "run", "result", "delta")))[
                                "alert"
                            ]
                        await c.send({"type": "query", "id": "q", "query": {"name": "alerts"}})
                        answer = await c.until("result", skip=("heartbeat", "run", "delta", "alert"))
                        while answer["id"] != "q":  # the collect commands' own results come first
                            answer = await c.until("result", skip=("heartbeat", "run", "delta", "alert"))
                        failed = await store.runs.recent("vnat")
    first, second = seen
    assert first["rule"] == "source.failing" and first["subject"] == "vnat" and first["severity"] == "warning"
    assert first["params"] == {
        "source": "vnat",
        "agency": "VNAT",
        "failures": 1,
        "http_status": 503,
        "run_id": failed[1].id,
    }
    assert second["severity"] == "warning" and second["params"]["failures"] == 2
    assert second["params"]["run_id"] == failed[0].id
    assert "503" in second["message"]
    assert down["severity"] == "critical" and down["subject"] == "vnat"
    assert down["params"] == {"source": "vnat", "agency": "VNAT", "failures": 2}  # no good run yet: no last_good
    assert down["message"].startswith("Nguồn Tổng cục Du lịch [vnat] ngừng hoạt động sau 2 lần lỗi liên tiếp")
    assert down["message_en"].startswith("Source Vietnam National Authority of Tourism [vnat] is down after 2")
    for alert, run in ((first, failed[1]), (second, failed[0]), (down, failed[0])):
        assert run.error and alert["detail"] == run.error  # the technical text, for those who drill down
        assert run.error not in alert["message"] and "://" not in alert["message"] and sim.url not in alert["message"]
        assert "from the source" not in alert["message"]  # no English error words in the headline
    listed = {a["rule"]: a for a in answer["data"]["alerts"]}
    assert listed.keys() == {"source.failing", "source.down"}
    failing = listed["source.failing"]
    assert failing["params"] == second["params"] and failing["detail"] == second["detail"]
    assert failing["inhibited_by"] == listed["source.down"]["id"]  # one page, not two


async def test_rejected_and_revised_alerts_carry_counts_figures_and_ids(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "ops.db") as store:
        first = ObservationIn(indicator="RETAIL_SALES", area="VN", period="2024-05", value=512.5)
        await store.observations.ingest(Batch("nso", [first], collected_at=T0))
        async with feed_server(tmp_path / "ops.db", store=store) as server:
            async with client(server, "display", hello={"filter": {}}) as c:
                await c.until("snapshot")
                run = await store.runs.start("nso", RunTrigger.SCHEDULE)
                again = ObservationIn(indicator="RETAIL_SALES", area="VN", period="2024-05", value=515.25)
                result = await store.observations.ingest(
                    Batch("nso", [again], collected_at=T0 + timedelta(days=1), run_id=run.id)
                )
                run = await store.runs.finish(run.id, RunOutcome.PARTIAL, rejected=3, fetched=4, revised=1)
                rejection = "3 records rejected, e.g. #2: value: Input should be a valid number, got 'n/a'"
                await run_alerts.after_success(store, run, result.revised, rejection, "NSO")
                got: dict[str, dict[str, Any]] = {}
                while len(got) < 2:
                    msg = await c.until("alert", skip=("heartbeat", "delta", "run"))
                    got[msg["alert"]["rule"]] = msg["alert"]
    rejected, revised = got["source.rejected"], got["figures.revised"]
    assert rejected["params"]["count"] == 3 and rejected["params"]["run_id"] == run.id
    assert rejected["params"]["source"] == "nso" and rejected["params"]["agency"] == "NSO"
    assert rejected["detail"] == rejection and "n/a" not in rejected["message"] and "Input" not in rejected["message"]
    p = revised["params"]
    assert (p["indicator"], p["area"], p["period"], p["previous_value"], p["value"], p["count"]) == (
        "RETAIL_SALES",
        "VN",
        "2024-05",
        512.5,
        515.25,
        1,
    )
    assert p["observation_id"] == result.revised[0].obs_id and p["run_id"] == run.id
    assert revised["severity"] == "info" and revised["message"].startswith("Số liệu chính thức bị điều chỉnh")


def test_the_feed_sends_every_alert_param_the_store_keeps() -> None:
    from feed.protocol import AlertParams as Sent
    from storage import AlertParams as Kept

    assert list(Kept.model_fields) == list(Sent.model_fields)
    for name, field in Kept.model_fields.items():
        assert field.annotation == Sent.model_fields[name].annotation, name
