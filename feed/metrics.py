"""Prometheus metrics of the feed and the collectors, on the feed's own registry (``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from feed.protocol import RunInfo
from storage import AlertState, Severity, Store

OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("opscentre_feed_connections", "Open feed connections", ["role"], registry=r)
        self.sent = Counter("opscentre_feed_messages_sent", "Messages sent to feed clients", registry=r)
        self.dropped = Counter(
            "opscentre_feed_messages_dropped", "Changes coalesced away before a slow client received them", registry=r
        )
        self.slow_closes = Counter("opscentre_feed_slow_closes", "Clients closed for falling behind (4008)", registry=r)
        self.rejected_frames = Counter(
            "opscentre_feed_bad_messages", "Client messages refused (bad JSON, unknown type, wrong fields)", registry=r
        )
        self.commands = Counter(
            "opscentre_feed_commands", "Commands by name and result", ["command", "result"], registry=r
        )
        self.snapshots_pending = Gauge(
            "opscentre_feed_snapshots_pending", "Clients waiting for their snapshot or resume replay", registry=r
        )
        self.snapshots_abandoned = Counter(
            "opscentre_feed_snapshots_abandoned",
            "Snapshots and resumes dropped because the client left before they were ready",
            registry=r,
        )
        self.snapshot_reads = Counter(
            "opscentre_feed_snapshot_reads",
            "Snapshots read from the database (shared by clients asking at once)",
            registry=r,
        )
        self.seq = Gauge("opscentre_events_seq", "The newest event broadcast", registry=r)
        self.runs = Counter(
            "opscentre_collector_runs", "Collection runs by source and outcome", ["source", "outcome"], registry=r
        )
        self.run_seconds = Histogram(
            "opscentre_collector_run_duration_seconds",
            "Duration of collection runs",
            ["source"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.fetch_seconds = Gauge(
            "opscentre_collector_fetch_duration_seconds",
            "Upstream response time of the last run",
            ["source"],
            registry=r,
        )
        self.up = Gauge(
            "opscentre_collector_up", "1 if the last run of a source reached it, else 0", ["source"], registry=r
        )
        self.last_success = Gauge(
            "opscentre_collector_last_success_timestamp_seconds",
            "When a source last ran successfully",
            ["source"],
            registry=r,
        )

        self.alerts = Gauge(
            "opscentre_alerts",
            "Open alerts by state and severity (muted ones included)",
            ["state", "severity"],
            registry=r,
        )

    async def count_alerts(self, store: Store) -> None:
        """Set the open alerts' counts from the store (on each scrape: they change in the store's
        transactions, not here). Every state and severity is set, zeros too, so a series that
        drops to nothing reads 0 rather than vanishing."""
        rows = await store.read_rows(
            "SELECT state, severity, count(*) FROM alerts WHERE state != 'resolved' GROUP BY state, severity"
        )
        counts = {(state, severity): n for state, severity, n in rows}
        for state in OPEN_STATES:
            for severity in Severity:
                self.alerts.labels(state.value, severity.value).set(counts.get((state.value, severity.value), 0))

    def run_finished(self, run: RunInfo) -> None:
        self.runs.labels(run.source, run.outcome).inc()
        if run.outcome == "skipped":
            return
        if run.ended_at is not None:
            self.run_seconds.labels(run.source).observe((run.ended_at - run.started_at).total_seconds())
        if run.latency_ms is not None:
            self.fetch_seconds.labels(run.source).set(run.latency_ms / 1000)
        ok = run.outcome in ("success", "partial")
        self.up.labels(run.source).set(1 if ok else 0)
        if ok and run.ended_at is not None:
            self.last_success.labels(run.source).set(run.ended_at.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)
