"""The simulator's HTTP server (aiohttp): agency JSON, SDMX, portal counters, faults.

Started in-process on the running event loop with :func:`start` (tests, ``opscentre demo``) or
standalone with :func:`simulator.main`. All endpoints are described in docs/agency-json.md,
section 4.

An agency-JSON answer is a snapshot: the first page fixes the instant ``as_of`` (``now()`` to the
second) and the opaque page token carries it with the offset, so the pages of one answer neither
overlap nor skip, even when figures are published or revised while they are fetched; the next
incremental pull starts from ``next_updated_after`` = ``as_of``. A revision is stamped strictly
after every snapshot already served (a second later if need be, which also makes revisions
visible under a clock that stands still), and later snapshots include it: no incremental pull
can miss a revision.

Here: the routes, the clock and the snapshots, and when a fault strikes; what a fault does to an
answer is in ``simulator.breakage``, what a scenario's steps do in ``simulator.stage``, the shape
of the answers (JSON, errors, page tokens) in ``simulator.answers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from aiohttp import web

from simulator import breakage, scenarios
from simulator.answers import (
    AGENCY_FORMAT,
    PORTAL_FORMAT,
    BadRequest,
    error,
    instant,
    json_answer,
    select,
    token,
    untoken,
)
from simulator.faults import Fault, FaultError, FaultTable
from simulator.figures import Figures
from simulator.periods import iso, label, unit_float
from simulator.portal import Portal
from simulator.reference import Reference, load
from simulator.sdmx import CSV_TYPE, OBS_STATUS, XML_TYPE, Obs, to_csv, to_xml
from simulator.series import Record, Series, decimals
from simulator.stage import Stage

MAX_PAGE_SIZE = 50_000
MAX_SYNTHETIC = 5_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAULT = web.RequestKey("fault", str)  # schema or duplicate: the handler alters its records


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    seed: int = 2020
    now: Callable[[], datetime] | None = None  # a timezone-aware clock; default: real UTC time
    faults: list[Fault] = field(default_factory=list)
    page_size: int = 5000
    scenario: str = "none"  # simulator/scenarios.py: what happens, on a compressed timeline
    speed: float = 1.0  # scenario seconds per second of the clock


class Simulator:
    """A running simulator: ``url``, ``port``, ``faults``; stop with :meth:`stop` (or ``async with``)."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        if not 1 <= self.config.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.ref: Reference = load()
        self.figures = Figures(self.config.seed, self.ref)
        self.portal = Portal(self.config.seed, self.ref)
        self.faults = FaultTable(self.config.faults)
        self.scenario = scenarios.get(self.config.scenario)
        self._clock = self.config.now or (lambda: datetime.now(UTC))
        self._timeline: scenarios.Timeline | None = None
        self.played: list[scenarios.Applied] = []
        self.stage = Stage(self.figures, self.faults, self.now, self._revision_stamp)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._hanging: set[asyncio.Future[None]] = set()
        self._served = 0  # the latest snapshot instant handed out
        self._revised = 0  # the latest revision stamp
        self.port = 0
        self.url = ""

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> Simulator:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/agencies/{agency}/observations", self._agency)
        app.router.add_get("/provinces/{code}/observations", self._province)
        app.router.add_get("/sdmx/{agency}/{file}", self._sdmx)
        app.router.add_get("/portal/counters", self._counters)
        app.router.add_get("/synthetic/{n}/observations", self._synthetic)
        app.router.add_get("/_admin/faults", self._faults_get)
        app.router.add_put("/_admin/faults", self._faults_put)
        app.router.add_delete("/_admin/faults", self._faults_delete)
        app.router.add_get("/_admin/scenario", self._scenario_get)
        # handler_cancellation: a request left hanging (timeout fault) ends when its client leaves
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._timeline = scenarios.Timeline(self.scenario, self.now(), self.config.speed)
        self.port = int(runner.addresses[0][1])
        host = self.config.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        self.url = f"http://{shown}:{self.port}"
        return self

    async def stop(self) -> None:
        """Stop serving; requests left hanging by faults are dropped."""
        self._stopping.set()
        for fut in list(self._hanging):
            if not fut.done():
                fut.set_result(None)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- helpers -------------------------------------------------------------------------------

    def now(self) -> int:
        """The simulator's clock, in whole epoch seconds."""
        dt = self._clock()
        if dt.tzinfo is None:
            raise ValueError("the simulator's clock must return timezone-aware datetimes")
        return int(dt.timestamp() // 1)

    def _snapshot(self) -> int:
        """The instant of a new answer: now, or the latest revision if the clock is behind it."""
        t = max(self.now(), self._revised)
        self._served = max(self._served, t)
        return t

    def _revision_stamp(self) -> int:
        """The instant of a new revision: strictly after every snapshot already served."""
        t = max(self.now(), self._served + 1 if self._served else 0)
        self._revised = max(self._revised, t)
        return t

    def scope(self, path: str, as_of: int) -> list[Series] | None:
        """The series behind a data endpoint's path (None for other paths)."""
        parts = path.strip("/").split("/")
        if len(parts) != 3:
            return None
        kind, code, leaf = parts
        if kind == "agencies" and leaf == "observations" and code in self.ref.agencies:
            return self.figures.agency_series(code, as_of)
        if kind == "provinces" and leaf == "observations" and code in self.ref.current:
            return self.figures.province_series(code, as_of)
        if kind == "sdmx" and leaf in ("data.xml", "data.csv") and code in self.ref.agencies:
            return self.figures.sdmx_series(code, as_of)
        return None

    def revise(self, fraction: float = 0.05, endpoint: str = "*") -> list[Record]:
        """Revise ``fraction`` of the figures published on the endpoints matching ``endpoint`` now.

        The same as the ``revise`` fault, applied at once: the next ``updated_after`` pull of those
        endpoints returns exactly these records."""
        now = self._revision_stamp()
        seen: dict[tuple[str, str], Series] = {}
        for path in self.data_paths():
            if Fault("revise", endpoint).matches(path):
                for s in self.scope(path, now) or []:
                    seen.setdefault((s.indicator, s.area), s)
        return self.figures.revise(seen.values(), fraction, now)

    def data_paths(self) -> list[str]:
        """Every concrete data endpoint path."""
        out = [f"/agencies/{a}/observations" for a in self.ref.agencies]
        out += [f"/provinces/{c}/observations" for c in self.ref.current]
        out += [f"/sdmx/{a}/data.{ext}" for a in self.ref.agencies for ext in ("xml", "csv")]
        return out

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- faults --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            self.play()
            fault = self.faults.take(request.path)
            if fault is None:
                return await handler(request)
            return await self._apply(fault, request, handler)
        except BadRequest as exc:
            return error(400, str(exc))
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error(exc.status, f"{exc.reason}: {request.method} {request.path}")
            raise

    async def _apply(self, fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = fault.kind
        if kind == "latency":
            await self._sleep((fault.ms or 0) / 1000)
            return await handler(request)
        if kind == "timeout":
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._hanging.add(fut)
            try:
                await fut  # until the simulator stops; the client leaving cancels this handler
            finally:
                self._hanging.discard(fut)
            breakage.drop(request)
            return web.Response(status=503)
        if kind == "http_error":
            status = fault.status or 503
            reason = web.Response(status=status).reason
            return web.Response(status=status, text=f"{status} {reason} (simulated fault)\n")
        if kind == "refused":
            breakage.drop(request)
            return web.Response(status=503)  # never sent: the connection is gone
        if kind == "oversized":
            return await breakage.oversized(request, fault.bytes if fault.bytes is not None else 64 * 1024 * 1024)
        if kind == "malformed":
            return breakage.cut_off(await handler(request))
        if kind == "revise":
            now = self._revision_stamp()
            series = self.scope(request.path, now)
            if series:
                self.figures.revise(series, fault.fraction or 0.05, now)
            return await handler(request)
        request[FAULT] = kind
        return await handler(request)

    # --- data endpoints ------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _agency(self, request: web.Request) -> web.StreamResponse:
        agency = request.match_info["agency"]
        if agency not in self.ref.agencies:
            known = ", ".join(sorted(self.ref.agencies))
            return error(404, f"unknown agency {agency!r}; the agencies are {known}")
        return self._observations(
            request, agency, lambda as_of, after: select(self.scope(request.path, as_of), as_of, after)
        )

    async def _province(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        if code not in self.ref.current:
            if code in self.ref.merged_into:
                into = self.ref.merged_into[code]
                msg = f"unit {code} ({self.ref.names.get(code)}) was merged into {into} after {self.ref.cutoff}; its history is served by /provinces/{into}/observations"
            else:
                msg = f"unknown province code {code!r}; the units in force are {', '.join(self.ref.current)}"
            return error(404, msg)
        return self._observations(
            request, code, lambda as_of, after: select(self.scope(request.path, as_of), as_of, after)
        )

    async def _synthetic(self, request: web.Request) -> web.StreamResponse:
        try:
            n = int(request.match_info["n"])
            k = int(request.query.get("records", "10"))
        except ValueError:
            raise BadRequest("source number and 'records' must be whole numbers") from None
        if n < 0 or not 0 <= k <= MAX_SYNTHETIC:
            raise BadRequest(f"source number must be >= 0 and 'records' between 0 and {MAX_SYNTHETIC}")
        return self._observations(request, f"SYN{n}", lambda as_of, after: self._synthetic_records(n, k, as_of, after))

    def _synthetic_records(self, n: int, k: int, as_of: int, after: int | None) -> list[Record]:
        """K monthly figures (from 2025-07) of national+provincial indicators for provinces in force."""
        rows = [r for r in self.ref.indicators if r.level == "national+provincial" and r.frequency == "M"]
        units = self.ref.current
        months = 12
        block = months * len(units)
        first = 2025 * 12 + 6  # 2025-07
        out: list[Record] = []
        for j in range(min(k, block * len(rows))):
            row = rows[(n + j // block) % len(rows)]
            w = j % block
            area = units[(n + w // months) % len(units)]
            month = first + w % months
            u = unit_float(self.config.seed, "synthetic", n, j)
            mag = row.magnitude or 1.0
            raw = mag * (0.8 + 0.4 * u) if row.kind == "rate" else mag / len(units) * (0.3 + 1.4 * u)
            d = decimals(row)
            value = round(raw) if d == 0 else round(raw, d)
            y, m = divmod(month + 1, 12)
            published = int(datetime(y, m + 1, 20, 2, tzinfo=UTC).timestamp())
            if published <= as_of and (after is None or published > after):
                out.append((row.code, area, label("M", month), value, "official", published, published))
        return out

    def _observations(
        self, request: web.Request, who: str, records_of: Callable[[int, int | None], list[Record]]
    ) -> web.Response:
        q = request.query
        after = instant(q.get("updated_after"), "updated_after")
        try:
            size = int(q.get("page_size", self.config.page_size))
        except ValueError:
            raise BadRequest(f"page_size must be a whole number, got {q.get('page_size')!r}") from None
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        as_of, offset = untoken(q["page"]) if "page" in q else (self._snapshot(), 0)
        records = records_of(as_of, after)
        page = records[offset : offset + size]
        nxt = None
        if offset + size < len(records):
            query = {k: v for k, v in q.items() if k not in ("page", "page_size")}
            query.update(page=token(as_of, offset + size), page_size=str(size))
            nxt = str(request.url.with_query(query))
        stamps: dict[int, str] = {}
        obs: list[dict[str, Any]] = []
        for ind, area, period, value, status, t, first in page:
            for at in (t, first):
                if at not in stamps:
                    stamps[at] = iso(at)
            obs.append(
                {
                    "indicator": ind,
                    "area": area,
                    "period": period,
                    "value": value,
                    "status": status,
                    "updated_at": stamps[t],
                    "published_at": stamps[first],
                }
            )
        fault = request.get(FAULT)
        if fault == "duplicate":
            obs = breakage.duplicated(obs)
        elif fault == "schema":
            obs = breakage.broken(obs)
        return json_answer(
            {
                "format": AGENCY_FORMAT,
                "agency": who,
                "generated_at": iso(as_of),
                "updated_after": iso(after) if after is not None else None,
                "next_updated_after": iso(as_of),
                "next": nxt,
                "observations": obs,
            }
        )

    async def _sdmx(self, request: web.Request) -> web.StreamResponse:
        agency, file = request.match_info["agency"], request.match_info["file"]
        if file not in ("data.xml", "data.csv"):
            return error(404, f"unknown SDMX resource {file!r}; use data.xml (SDMX-ML 2.1) or data.csv (SDMX-CSV 2.0)")
        if agency not in self.ref.agencies:
            return error(404, f"unknown agency {agency!r}; the agencies are {', '.join(sorted(self.ref.agencies))}")
        after = instant(request.query.get("updatedAfter"), "updatedAfter")
        as_of = self._snapshot()
        series = self.scope(request.path, as_of)
        if self.stage.sdmx_skew:
            records = [
                r for r in self.stage.skewed(select(series, as_of, None), as_of) if after is None or r[5] > after
            ]
        else:
            records = select(series, as_of, after)
        obs: list[Obs] = [(i, a, p, v, OBS_STATUS[s]) for i, a, p, v, s, *_ in records]
        fault = request.get(FAULT)
        if fault == "duplicate":
            obs = breakage.duplicated(obs)
        elif fault == "schema":
            obs = breakage.broken_sdmx(obs)
        freq_of = {r.code: r.frequency for r in self.ref.indicators}
        # SDMX-CSV carries no prepared time, so a client resumes from the Date header: it is the
        # snapshot's instant on the simulator's clock (not the machine's, which a test's clock or a
        # revision stamped ahead differs from), or an incremental pull would skip revisions.
        date = formatdate(as_of, usegmt=True)
        if file == "data.xml":
            text = to_xml(agency, freq_of, obs, iso(as_of), f"VN_{agency}_{as_of}")
            return web.Response(
                body=text.encode(), headers={"Content-Type": f"{XML_TYPE}; charset=utf-8", "Date": date}
            )
        return web.Response(
            body=to_csv(agency, freq_of, obs).encode(),
            headers={"Content-Type": f"{CSV_TYPE}; charset=utf-8", "Date": date},
        )

    async def _counters(self, request: web.Request) -> web.StreamResponse:
        as_of = self.now()
        counters, by_area = self.portal.read(as_of)
        self.stage.dipped(counters)
        body: dict[str, Any] = {"format": PORTAL_FORMAT, "as_of": iso(as_of), "counters": counters, "by_area": by_area}
        if request.get(FAULT) == "schema":
            shown: dict[str, Any] = dict(counters)
            shown["PORTAL_FEEDBACK"] = "n/a"
            shown["NO_SUCH_COUNTER"] = 1
            body["counters"] = shown
            body["by_area"] = {**by_area, "99": {"PORTAL_DOSSIERS_SYNCED": -1}}
        return json_answer(body)

    # --- scenarios -----------------------------------------------------------------------------

    def play(self) -> list[scenarios.Applied]:
        """Apply the scenario's steps that are due by now, in order; returns them."""
        if self._timeline is None:
            return []
        done = []
        for cycle, step in self._timeline.due(self.now()):
            result = self.stage.act(step.action, step.resolved(cycle))
            done.append(scenarios.Applied(cycle, step, self.now(), result))
        self.played.extend(done)
        del self.played[:-200]  # a demo left running for days keeps only its recent history
        return done

    async def _scenario_get(self, request: web.Request) -> web.StreamResponse:
        timeline = self._timeline
        return json_answer(
            {
                "scenario": self.scenario.name,
                "description": self.scenario.description,
                "cycle": self.scenario.cycle,
                "speed": self.config.speed,
                "started_at": iso(timeline.start) if timeline else None,
                "elapsed": timeline.elapsed(self.now()) if timeline else 0.0,
                "applied": [a.to_dict() for a in self.played],
                "next": timeline.upcoming() if timeline else None,
                "scenarios": {s.name: s.description for s in scenarios.SCENARIOS.values()},
            }
        )

    # --- admin ---------------------------------------------------------------------------------

    def _fault_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.faults.list()]

    async def _faults_get(self, request: web.Request) -> web.StreamResponse:
        return json_answer({"faults": self._fault_list()})

    async def _faults_put(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"the body must be a JSON fault object (or a list of them): {exc}")
        items = data if isinstance(data, list) else [data]
        try:
            faults = [Fault.from_dict(item) for item in items]
        except FaultError as exc:
            return error(400, str(exc))
        for f in faults:
            self.faults.set(f.endpoint, f)
        return json_answer({"set": [f.to_dict() for f in faults], "faults": self._fault_list()})

    async def _faults_delete(self, request: web.Request) -> web.StreamResponse:
        pattern = request.query.get("endpoint")
        cleared = self.faults.clear(pattern)
        return json_answer({"cleared": cleared, "faults": self._fault_list()})


async def start(config: SimulatorConfig | None = None) -> Simulator:
    """Start a simulator on the running event loop; ``await sim.stop()`` (or ``async with``) ends it."""
    return await Simulator(config).start()
