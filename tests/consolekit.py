"""Fixtures for the console's tests: a real feed server over a real store, seeded with data that is
the same on every run, and the console app connected to it.

Two ways to run the server:
- ``seeded_server`` (async): in the test's own event loop, for pilot tests (``App.run_test()``).
- ``ServerThread`` (sync): in a thread with its own loop, for pytest-textual-snapshot, whose
  ``snap_compare`` runs the app with ``asyncio.run`` (a loop of its own) in the test's thread.

Deterministic data: ``frozen_clock()`` stops the wall clock at ``NOW`` (time-machine patches
``datetime.now`` and ``time.time`` everywhere, threads included; asyncio's and Textual's timers
run on the monotonic clock, which it leaves alone). ``seed`` then moves that clock by hand, so every
run, figure and alert carries the same times on every run, and the console's "data age" too.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import time_machine

from collectors.config import CollectorSettings, SourceSettings
from feed.server import FeedServer
from rules.after_run import Collector
from storage import AlertParams, Batch, ObservationIn, ObservationStatus, RunOutcome, RunTrigger, Severity, Store
from storage.models import SilenceMatch
from tests.feedkit import TOKENS, feed_server

T = TypeVar("T")

# The console's day in the snapshots: 12:00 in Hanoi (UTC+7) on 23 November 2026.
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
# Before the statistics office revised October's CPI (time travel to here shows the first figure).
BEFORE_REVISION = datetime(2026, 11, 15, 0, 0, tzinfo=UTC)

MONTHS = [f"{2025 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}" for i in range(12)]  # 2025-11 … 2026-10
QUARTERS = ["2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]

# Key national series, oldest period first (the last CPI figure is revised below).
CPI_YOY = [3.12, 3.05, 2.96, 3.01, 3.18, 3.25, 3.31, 3.2, 3.14, 3.09, 3.16, 3.22]
CPI_REVISED = 3.27
CPI_MOM = [0.2, 0.18, 0.31, -0.05, 0.12, 0.44, 0.09, 0.15, 0.21, -0.11, 0.27, 0.19]
RETAIL_SALES = [563.2, 571.8, 598.4, 540.1, 552.7, 566.3, 574.9, 581.2, 590.6, 585.4, 597.8, 612.5]
IIP_YOY = [8.1, 8.9, 9.4, 6.2, 7.7, 8.3, 9.1, 8.6, 8.8, 9.7, 10.2, 9.9]
GDP_GROWTH = [7.55, 6.93, 7.96, 8.23, 8.46, 7.1, 7.52, 7.84]
UNEMPLOYMENT = [2.22, 2.2, 2.24, 2.22, 2.21, 2.19, 2.2, 2.18]
EXPORTS = [35.6, 39.1, 33.8, 30.2, 36.9, 38.4, 39.5, 40.3, 41.8, 42.6, 40.9, 43.7]
IMPORTS = [34.1, 37.5, 33.1, 31.6, 35.2, 37.0, 38.2, 38.9, 40.1, 41.0, 39.4, 41.2]
BUDGET_REVENUE = [161.0, 190.4, 248.7, 146.2, 171.5, 180.3, 175.9, 169.8, 172.4, 168.0, 176.6, 183.1]
CREDIT_GROWTH = [13.2, 15.1, 1.4, 2.6, 4.1, 5.3, 6.8, 7.9, 9.2, 10.4, 11.5, 12.3]
USD_RATE = [25_108 + 3 * i - (i % 5) * 4 for i in range(30)]  # the 30 days before today
# The portal's counters: one reading a minute over the last six minutes (running totals).
PORTAL: dict[str, list[float]] = {
    "PORTAL_VISITS": [1_523_601_204.0 + 48_211 * i for i in range(6)],
    "PORTAL_ACCOUNTS": [12_930_118.0 + 152 * i for i in range(6)],
    "PORTAL_DOSSIERS_ONLINE": [81_402_337.0 + 1_204 * i for i in range(6)],
    "PORTAL_PAYMENTS": [30_119_482.0 + 377 * i for i in range(6)],
    "PORTAL_PAYMENT_AMOUNT": [41_208.75 + 1.82 * i for i in range(6)],
}

# The consoles of the pilot tests ask their histories at this pace (``OpscentreApp(pace=...)``), on
# a server that allows it: at the product's pace (6 a second) filling the sparklines of one screen
# took 4-6 s, and the provinces' earlier period (63 units, one query each) 10 s, of waiting alone.
# The snapshot tests' consoles keep the product's pace.
QUICK_PACE = (2000.0, 2000.0)
QUICK_QUERIES = 600_000

COLLECTOR = CollectorSettings(breaker_reset=timedelta(hours=1))  # the open circuit stays open while tests run
BREAKER_FAILURES = COLLECTOR.breaker_failures
SOURCES = {"nso": "NSO", "mof": "MOF", "sbv": "SBV", "cus": "CUS", "portal": "DVCQG"}


def _source_settings(base_url: str) -> list[SourceSettings]:
    out = []
    for name, agency in SOURCES.items():
        url = f"{base_url}/portal/counters" if name == "portal" else f"{base_url}/agencies/{agency}/observations"
        kind = "portal" if name == "portal" else "agency-json"
        out.append(SourceSettings(name=name, kind=kind, url=url, agency=agency, every="1m"))
    return out


@contextmanager
def frozen_clock(at: datetime = NOW) -> Iterator[time_machine.Traveller]:
    """The wall clock stopped at ``at`` (move it with ``.move_to``/``.shift``)."""
    with time_machine.travel(at, tick=False) as traveller:
        yield traveller


@dataclass
class Seeded:
    """What ``seed`` stored, for tests to assert against."""

    runs: dict[str, int] = field(default_factory=dict)  # the last run of each source
    alerts: dict[str, int] = field(default_factory=dict)  # rule -> alert id
    cpi_revised_id: int = 0  # the observation of October's CPI after its revision
    provinces_now: list[str] = field(default_factory=list)  # the 34 units in force
    provinces_before: list[str] = field(default_factory=list)  # the 63 units of 2025-05


def _records(rows: list[tuple[str, str, str, float]], status: str = "official") -> list[ObservationIn]:
    kind = ObservationStatus(status)
    return [ObservationIn(indicator=i, area=a, period=p, value=v, status=kind) for i, a, p, v in rows]


def _payload(source: str, records: list[ObservationIn]) -> bytes:
    """The bytes an upstream would have sent (same records, same bytes, same sha256)."""
    body = {"source": source, "observations": [r.model_dump(mode="json") for r in records]}
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


async def seed(store: Store, clock: time_machine.Traveller | None = None) -> Seeded:
    """Fill ``store`` with the console's demo day. With ``clock`` (from ``frozen_clock``), each run
    happens at its own fixed time and the clock is left at ``NOW``; without it, times are real."""
    seeded = Seeded()

    def at(moment: datetime) -> None:
        if clock is not None:
            clock.move_to(moment)

    async def run(
        source: str,
        when: datetime,
        rows: list[tuple[str, str, str, float]],
        *,
        status: str = "official",
        latency_ms: float = 420.0,
        rejected: int = 0,
    ) -> int:
        at(when)
        started = await store.runs.start(source, RunTrigger.SCHEDULE)
        records = _records(rows, status)
        payload = _payload(source, records)
        result = await store.observations.ingest(
            Batch(
                source, records, run_id=started.id, collected_at=when, payload=payload, content_type="application/json"
            )
        )
        assert not result.rejected, result.rejected
        at(when + timedelta(milliseconds=latency_ms))
        await store.runs.finish(
            started.id, RunOutcome.PARTIAL if rejected else RunOutcome.SUCCESS, fetched=len(records) + rejected,
            new=result.new, revised=len(result.revised), unchanged=result.unchanged, rejected=rejected,
            latency_ms=latency_ms, bytes=len(payload), http_status=200,
        )  # fmt: skip
        seeded.runs[source] = started.id
        return started.id

    nso_day = datetime(2026, 11, 6, 2, 0, tzinfo=UTC)
    now_units = [a.code for a in await store.reference.areas_in_force(date(2026, 10, 31))]
    old_units = [a.code for a in await store.reference.areas_in_force(date(2025, 5, 31))]
    seeded.provinces_now, seeded.provinces_before = now_units, old_units
    nso: list[tuple[str, str, str, float]] = []
    for name, values in (("CPI_YOY", CPI_YOY), ("CPI_MOM", CPI_MOM), ("RETAIL_SALES", RETAIL_SALES)):
        nso += [(name, "VN", p, v) for p, v in zip(MONTHS, values, strict=True)]
    nso += [("IIP_YOY", "VN", p, v) for p, v in zip(MONTHS, IIP_YOY, strict=True)]
    nso += [("GDP_GROWTH", "VN", q, v) for q, v in zip(QUARTERS, GDP_GROWTH, strict=True)]
    nso += [("UNEMPLOYMENT_RATE", "VN", q, v) for q, v in zip(QUARTERS, UNEMPLOYMENT, strict=True)]
    await run("nso", nso_day, nso)
    # Provinces (provisional): October 2026 over the 34 units in force, May 2025 over the 63 before the merger.
    prov = [("CPI_YOY", code, "2026-10", round(2.4 + (i * 37 % 23) / 10, 2)) for i, code in enumerate(now_units)]
    prov += [("CPI_YOY", code, "2025-05", round(2.1 + (i * 29 % 31) / 10, 2)) for i, code in enumerate(old_units)]
    await run("nso", nso_day + timedelta(hours=1), prov, status="provisional")

    cus = [("EXPORTS", "VN", p, v) for p, v in zip(MONTHS, EXPORTS, strict=True)]
    cus += [("IMPORTS", "VN", p, v) for p, v in zip(MONTHS, IMPORTS, strict=True)]
    cus += [("TRADE_BALANCE", "VN", p, round(e - i, 2)) for p, e, i in zip(MONTHS, EXPORTS, IMPORTS, strict=True)]
    await run("cus", datetime(2026, 11, 10, 3, 0, tzinfo=UTC), cus)
    await run(
        "mof",
        datetime(2026, 11, 12, 1, 0, tzinfo=UTC),
        [("BUDGET_REVENUE", "VN", p, v) for p, v in zip(MONTHS, BUDGET_REVENUE, strict=True)],
    )

    # The statistics office revises October's official CPI (3.22 becomes 3.27): an info alert.
    revision_run = await run(
        "nso", datetime(2026, 11, 20, 3, 0, tzinfo=UTC), [("CPI_YOY", "VN", "2026-10", CPI_REVISED)]
    )
    revised = [o for o in (await store.snapshots.current()).observations if (o.indicator, o.area) == ("CPI_YOY", "VN")]
    seeded.cpi_revised_id = revised[0].id
    at(datetime(2026, 11, 20, 3, 0, 1, tzinfo=UTC))
    await store.alerts.fire(
        "figures.revised", "nso", Severity.INFO,
        f"Số liệu chính thức bị điều chỉnh: CPI_YOY VN 2026-10 {CPI_YOY[-1]!r} → {CPI_REVISED!r} (lần thu thập #{revision_run})",
        params=AlertParams(
            source="nso", agency="NSO", indicator="CPI_YOY", area="VN", period="2026-10", value=CPI_REVISED,
            previous_value=CPI_YOY[-1], count=1, run_id=revision_run, observation_id=seeded.cpi_revised_id,
        ),
    )  # fmt: skip

    # The customs' next pull has two records it cannot read: a warning, acknowledged by an operator.
    october = [row for row in cus if row[2] == "2026-10"]
    rejecting = await run("cus", datetime(2026, 11, 21, 8, 15, tzinfo=UTC), october, rejected=2)
    await store.alerts.fire(
        "source.rejected", "cus", Severity.WARNING, f"Nguồn cus: 2 bản ghi bị loại (lần thu thập #{rejecting})",
        params=AlertParams(source="cus", agency="CUS", count=2, run_id=rejecting),
        detail="record 37: unknown area '99'; record 38: period '2026-13' is not a month",
    )  # fmt: skip

    sbv = [("CREDIT_GROWTH", "VN", p, v) for p, v in zip(MONTHS, CREDIT_GROWTH, strict=True)]
    days = [(NOW.date() - timedelta(days=30 - i)).isoformat() for i in range(30)]
    sbv += [("USD_CENTRAL_RATE", "VN", d, float(v)) for d, v in zip(days, USD_RATE, strict=True)]
    await run("sbv", datetime(2026, 11, 23, 1, 30, tzinfo=UTC), sbv)

    for minute in range(6):
        moment = NOW - timedelta(minutes=5 - minute)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [(code, "VN", stamp, values[minute]) for code, values in PORTAL.items()]
        await run("portal", moment - timedelta(seconds=2), rows, latency_ms=85.0)

    # The finance ministry's system answers 503, run after run, until its circuit opens: critical.
    error = "HTTP 503 Service Unavailable from http://127.0.0.1:8780/agencies/MOF/observations"
    for n in range(BREAKER_FAILURES):
        at(datetime(2026, 11, 23, 4, 30 + 5 * (n + 1 - BREAKER_FAILURES) + 20, tzinfo=UTC))
        failed = await store.runs.start("mof", RunTrigger.SCHEDULE)
        at(datetime(2026, 11, 23, 4, 30 + 5 * (n + 1 - BREAKER_FAILURES) + 20, 3, tzinfo=UTC))
        await store.runs.finish(failed.id, RunOutcome.FAILED, error=error, latency_ms=3012.0, http_status=503)
    seeded.runs["mof"] = failed.id
    failing = await store.alerts.fire(
        "source.failing", "mof", Severity.CRITICAL,
        f"Nguồn mof ngắt mạch sau {BREAKER_FAILURES} lần lỗi liên tiếp (máy chủ nguồn trả lời mã HTTP 503)",
        params=AlertParams(source="mof", agency="MOF", failures=BREAKER_FAILURES, http_status=503, run_id=failed.id),
        detail=error,
    )  # fmt: skip
    at(datetime(2026, 11, 23, 4, 52, tzinfo=UTC))
    alerts = {a.rule: a.id for a in await store.alerts.listed()}
    seeded.alerts = alerts
    assert failing is not None and len(alerts) == 3, alerts
    await store.alerts.acknowledge(alerts["source.rejected"], "operator-user", "operator", "đã báo Tổng cục Hải quan")
    # An admin silences the customs' rejected records for six hours while its converter is fixed.
    at(datetime(2026, 11, 23, 4, 55, tzinfo=UTC))
    await store.alerts.silence(
        SilenceMatch(rule="source.rejected", subject="cus"), datetime.now(UTC) + timedelta(hours=6),
        "Hải quan đang sửa bộ chuyển đổi dữ liệu", "admin-user", "admin",
    )  # fmt: skip
    at(NOW)
    return seeded


@asynccontextmanager
async def seeded_server(
    path: Path, *, clock: time_machine.Traveller | None = None, collector: bool = True, **settings: Any
) -> AsyncIterator[tuple[FeedServer, Seeded]]:
    """A real feed server in this event loop over ``path``, seeded; with ``collector``, a real
    Collector for the seeded sources on a real simulator (manual runs work; nothing is scheduled).
    Its query limit allows ``QUICK_PACE`` unless ``settings`` say otherwise."""
    import simulator
    from tests.simulator_fixtures import Clock

    settings.setdefault("queries_per_minute", QUICK_QUERIES)

    store = await Store.open(path)
    try:
        seeded = await seed(store, clock)
        if not collector:
            async with feed_server(path, store=store, **settings) as server:
                yield server, seeded
            return
        async with await simulator.start(simulator.SimulatorConfig(port=0, now=Clock(NOW))) as sim:
            async with Collector(store, _source_settings(sim.url), COLLECTOR) as runs:
                for _ in range(BREAKER_FAILURES):  # as the failed runs seeded left it
                    runs.breakers["mof"].record_failure()
                async with feed_server(path, store=store, runs=runs, **settings) as server:
                    yield server, seeded
    finally:
        await store.close()


class ServerThread:
    """``seeded_server`` in a thread with its own event loop (for tests whose app runs its own loop).

    ``call(fn)`` runs ``fn(store)`` on the server's loop and returns its result, so a test can change
    the data while the console watches.
    """

    def __init__(self, path: Path, *, clock: time_machine.Traveller | None = None, **settings: Any) -> None:
        self.path = path
        self._clock = clock
        self._settings = settings
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="console-test-server", daemon=True)
        self.server: FeedServer | None = None
        self.seeded: Seeded | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def store(self) -> Store:
        assert self.server is not None
        return self.server.store

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with seeded_server(self.path, clock=self._clock, **self._settings) as (server, seeded):
                self.server, self.seeded = server, seeded
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(120):
            raise TimeoutError("the console test server did not start within 120 s")
        if self._error is not None:
            raise RuntimeError("the console test server failed to start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, fn: Callable[[Store], Awaitable[T]], timeout: float = 60) -> T:
        assert self._loop is not None

        async def go() -> T:
            return await fn(self.store)

        return asyncio.run_coroutine_threadsafe(go(), self._loop).result(timeout)


def token(role: str) -> str:
    return TOKENS[role]


def screenshot(path: Path, *, size: tuple[int, int] = (160, 40), lang: str = "en", keys: tuple[str, ...] = ()) -> None:
    """Save the console's screen on the seeded demo day as an SVG made by Textual (the README's
    ``docs/console.svg``): ``python -m tests.consolekit docs/console.svg``."""
    import tempfile

    from textual._doc import take_svg_screenshot
    from textual.pilot import Pilot

    from console.app import OpscentreApp

    async def filled(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, OpscentreApp)
        deadline = asyncio.get_running_loop().time() + 60
        while not (app.state.series and app.state.catalogue.indicators and app.state.sources):
            assert asyncio.get_running_loop().time() < deadline, "the console did not fill within 60 s"
            await asyncio.sleep(0.05)
        await pilot.press(*keys)
        await pilot.pause(2.0)  # the sparklines' histories and the views' queries come in

    with tempfile.TemporaryDirectory() as tmp, frozen_clock() as clock:
        with ServerThread(Path(tmp) / "ops.db", clock=clock) as server:
            app = OpscentreApp(server.url, token("operator"), lang=lang)
            svg = take_svg_screenshot(app, terminal_size=size, run_before=filled)
    path.write_text(svg, encoding="utf-8")


if __name__ == "__main__":
    import sys

    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console.svg"))
