"""Alerts routed by filter, as figures are (docs/protocol.md, *Which alerts a filter gets*): a
province's wall gets its province's alerts and those of the units merged into it, not the
country's; the same in the snapshot, live, on resume, in the past and in the `alerts` query."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from collectors.breaker import CircuitBreaker
from rules import run_alerts
from storage import AlertParams, Batch, ObservationIn, RunOutcome, RunTrigger, Severity, Store
from storage.clock import utcnow
from tests.feedkit import Client, client, feed_server

BOTH_ENGINES = True  # each test on SQLite and on PostgreSQL (the store_target fixture, tests/conftest.py)

# Tuyên Quang (08) since 2025-07-01 is the former Tuyên Quang (08) and Hà Giang (02).
FILTERS: dict[str, dict[str, Any]] = {
    "08": {"areas": ["08"]},
    "VN": {"areas": ["VN"]},
    "MOF": {"agencies": ["MOF"]},  # MPI was merged into MOF
    "KTVM": {"categories": ["KTVM"]},
    "critical-08": {"areas": ["08"], "severities": ["critical"]},
    # The centre's wall: a few national figures, and every alert in the country.
    "wall": {"indicators": ["CPI_YOY"], "areas": ["VN"], "all_alerts": True},
    "all": {},
}
EVERY = frozenset(FILTERS)


@dataclass(frozen=True)
class Fired:
    rule: str
    subject: str
    params: AlertParams
    gets: frozenset[str]  # the filters that get it
    severity: Severity = Severity.WARNING

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)


def fired(rule: str, subject: str, gets: Set[str], severity: Severity = Severity.WARNING, **params: Any) -> Fired:
    return Fired(rule, subject, AlertParams(**params), frozenset({*gets, "wall", "all"}), severity)


# The alerts of the country, with the params their rules give them (docs/rules.md). An alert about
# no indicator (a source's, a party's) is not kept from a filter by its categories or indicators.
INDICATOR_LESS = {"KTVM"}
ALERTS = [
    fired("anomaly.band", "CPI_YOY/08", {"08", "KTVM"}, indicator="CPI_YOY", area="08", source="nso", value=7.0),
    fired("anomaly.band", "CPI_YOY/02", {"08", "KTVM"}, indicator="CPI_YOY", area="02", source="nso", value=7.1),
    fired("anomaly.band", "CPI_YOY/04", {"KTVM"}, indicator="CPI_YOY", area="04", source="nso", value=7.2),
    fired("anomaly.band", "CPI_YOY/VN", {"VN", "KTVM"}, indicator="CPI_YOY", area="VN", source="nso", value=7.3),
    fired("anomaly.band", "BUDGET_REVENUE/08", {"08", "MOF"}, indicator="BUDGET_REVENUE", area="08", value=1.0),
    fired(
        "anomaly.outlier",
        "PUBLIC_INVESTMENT_DISBURSED/VN/2026-09",
        {"VN", "MOF"},
        indicator="PUBLIC_INVESTMENT_DISBURSED",
        area="VN",
        period="2026-09",
    ),
    # A province's own system (no agency): its province; a ministry's source: its agency, and the nation.
    fired("source.failing", "province-08", {"08", *INDICATOR_LESS}, source="province-08", area="08", failures=1),
    fired(
        "source.down",
        "province-02",
        {"08", "critical-08", *INDICATOR_LESS},
        Severity.CRITICAL,
        source="province-02",
        area="02",
    ),
    fired("data.stale", "province-04", INDICATOR_LESS, source="province-04", area="04", count=3),
    fired("source.failing", "mof", {"VN", "MOF", *INDICATOR_LESS}, source="mof", agency="MOF", failures=2),
    fired("source.rejected", "nso", {"VN", *INDICATOR_LESS}, source="nso", agency="NSO", count=2),
    # A late report: routed by the party that owes it, not by the first report it names.
    fired(
        "report.late", "02", {"08", *INDICATOR_LESS}, area="02", indicator="BUDGET_REVENUE", period="2026-09", count=2
    ),
    fired(
        "report.late", "MOF", {"VN", "MOF", *INDICATOR_LESS}, agency="MOF", indicator="BUDGET_REVENUE", period="2026-09"
    ),
    # figures.revised: routed by its source, not by the first figure it names.
    fired(
        "figures.revised",
        "nso",
        {"VN", *INDICATOR_LESS},
        Severity.INFO,
        source="nso",
        agency="NSO",
        indicator="CPI_YOY",
        area="08",
    ),
    fired(
        "figures.revised",
        "province-02",
        {"08", *INDICATOR_LESS},
        Severity.INFO,
        source="province-02",
        indicator="CPI_YOY",
        area="02",
    ),
    fired(
        "revision.watch",
        "CPI_YOY/02/2024-05/nso",
        {"08", "KTVM"},
        indicator="CPI_YOY",
        area="02",
        source="nso",
        agency="NSO",
    ),
    fired("crosscheck.provinces", "RETAIL_SALES/2026-09", {"VN", "KTVM"}, indicator="RETAIL_SALES", period="2026-09"),
    fired("counter.decreased", "PORTAL_DOSSIERS_ONLINE/02", {"08"}, indicator="PORTAL_DOSSIERS_ONLINE", area="02"),
    # The centre's own: every screen's figures stop alike.
    fired("storage.write_failed", "database", EVERY, Severity.CRITICAL),
]
# Fired before the clients come, and while they are there. A source's alert comes before the late
# reports it mutes: muting one fired before would send it again (rightly) and blur the count.
BEFORE, AFTER = ALERTS[:10], ALERTS[10:]


def expected(name: str, alerts: list[Fired]) -> set[tuple[str, str]]:
    return {a.key for a in alerts if name in a.gets}


def keys(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["rule"], a["subject"]) for a in alerts}


async def fire(store: Store, alerts: list[Fired]) -> None:
    for a in alerts:
        await store.alerts.fire(a.rule, a.subject, a.severity, f"{a.rule} {a.subject}", params=a.params)


async def live_alerts(c: Client, store: Store) -> list[dict[str, Any]]:
    """The alerts a client gets until a heartbeat says it has been sent every event up to now."""
    last = await store.events.last_seq()
    got = []
    while True:
        msg = await c.next()
        if msg["type"] == "alert":
            got.append(msg["alert"])
        elif msg["type"] == "heartbeat" and msg["seq"] >= last:
            return got


async def test_a_province_wall_gets_exactly_its_alerts_and_its_predecessors_as_every_filter_does(
    store_target: str,
) -> None:
    async with feed_server(store_target) as server:
        store = server.store
        await fire(store, BEFORE)
        positions: dict[str, int] = {}
        for name, flt in FILTERS.items():
            async with client(server, "display", hello={"filter": flt}) as c:
                snap = await c.until("snapshot")
                assert keys(snap["alerts"]) == expected(name, BEFORE), name
                positions[name] = snap["seq"]

        # Live, to clients subscribed now; and replayed to clients resuming from their snapshots.
        async with client(server, "display", hello={"filter": FILTERS["08"]}) as live_08:
            await live_08.until("snapshot")
            await fire(store, AFTER)
            assert keys(await live_alerts(live_08, store)) == expected("08", AFTER)
        for name, flt in FILTERS.items():
            resume = {"epoch": store.epoch, "seq": positions[name]}
            async with client(server, "display", hello={"filter": flt, "resume": resume}) as c:
                assert (await c.until("welcome"))["resumed"] is True
                assert keys(await live_alerts(c, store)) == expected(name, AFTER), name

        # The past, and the alerts query, route them the same way.
        as_of = utcnow().isoformat()
        for name, flt in FILTERS.items():
            async with client(server, "display", hello={"filter": flt, "as_of": as_of}) as c:
                assert keys((await c.until("snapshot"))["alerts"]) == expected(name, ALERTS), name
                query = {"name": "alerts", "open_only": False, "limit": 5, "filter": flt}
                await c.send({"type": "query", "id": "q", "query": query})
                answer = (await c.until("result"))["data"]["alerts"]
                assert len(answer) == min(5, len(expected(name, ALERTS))), name
                assert keys(answer) <= expected(name, ALERTS), name
                await c.send({"type": "query", "id": "q", "query": {**query, "limit": 100}})
                assert keys((await c.until("result"))["data"]["alerts"]) == expected(name, ALERTS), name


async def test_an_alert_keeps_its_route_while_the_figure_it_names_changes(store_target: str) -> None:
    """A late report and a source's revisions name the first of several figures, which changes while
    the alert is open: a client gets every change of the alert or none, never a copy left behind."""
    async with feed_server(store_target) as server:
        store = server.store
        late = dict(area="02", period="2026-09", count=2)
        revised = dict(source="nso", agency="NSO", period="2026-09")
        async with (
            client(server, "display", hello={"filter": {"areas": ["08"]}}) as province,
            client(server, "display", hello={"filter": {"areas": ["VN"], "indicators": ["CPI_YOY"]}}) as nation,
        ):
            await province.until("snapshot")
            await nation.until("snapshot")
            for indicator, area in (("CPI_YOY", "08"), ("BUDGET_REVENUE", "VN"), ("CPI_YOY", "02")):
                params = AlertParams(indicator=indicator, **late)
                await store.alerts.fire("report.late", "02", Severity.WARNING, "late", params=params)
                params = AlertParams(indicator=indicator, area=area, **revised)
                await store.alerts.fire("figures.revised", "nso", Severity.INFO, "revised", params=params)
            await store.alerts.resolve("report.late", "02")
            got = await live_alerts(province, store)
            assert [(a["rule"], a["params"]["indicator"], a["state"]) for a in got] == [
                ("report.late", "CPI_YOY", "firing"),
                ("report.late", "BUDGET_REVENUE", "firing"),
                ("report.late", "CPI_YOY", "firing"),
                ("report.late", "CPI_YOY", "resolved"),
            ]
            got = await live_alerts(nation, store)
            assert [(a["rule"], a["params"]["area"]) for a in got] == [
                ("figures.revised", "08"),
                ("figures.revised", "VN"),
                ("figures.revised", "02"),
            ]


async def test_a_province_systems_rejected_records_reach_its_provinces_wall(store_target: str) -> None:
    """The rule names the province a province's own system reports for, as its health alerts do."""
    async with feed_server(store_target) as server:
        store = server.store
        figure = ObservationIn(indicator="CPI_YOY", area="02", period="2024-05", value=3.1)
        await store.observations.ingest(Batch("province-02", [figure]))
        run = await store.runs.start("province-02", RunTrigger.SCHEDULE)
        run = await store.runs.finish(run.id, RunOutcome.PARTIAL, fetched=3, new=1, rejected=2)
        async with client(server, "display", hello={"filter": FILTERS["08"]}) as wall:
            await wall.until("snapshot")
            await run_alerts.after_success(store, run, [], "2 records rejected")
            got = await live_alerts(wall, store)
            assert [(a["rule"], a["params"]["area"]) for a in got] == [("source.rejected", "02")]
            # And a failure: the same province, whatever the run.
            await run_alerts.after_failure(store, run, CircuitBreaker(failures_to_open=3, reset_after=60))
            assert [a["rule"] for a in await live_alerts(wall, store)] == ["source.failing"]
