"""The store: domain models, schema and migrations, reference data and the repository API.

Imports none of the other opscentre packages (checked by import-linter in the test run).
"""

from storage.ingest import Batch
from storage.models import (
    NATION,
    Agency,
    Alert,
    AlertParams,
    AlertState,
    Area,
    AuditEntry,
    Category,
    CollectionRun,
    Event,
    EventType,
    Indicator,
    IngestResult,
    Observation,
    ObservationIn,
    ObservationStatus,
    RunOutcome,
    RunTrigger,
    Severity,
)
from storage.store import Snapshot, SnapshotFilter, Store, StoreError
from storage.writes import ConstraintError
from wording.periods import Frequency, Period, PeriodError

__all__ = [
    "NATION", "Agency", "Alert", "AlertParams", "AlertState", "Area", "AuditEntry", "Batch", "Category", "CollectionRun",
    "ConstraintError",
    "Event", "EventType", "Frequency", "Indicator", "IngestResult", "Observation", "ObservationIn",
    "ObservationStatus", "Period", "PeriodError", "RunOutcome", "RunTrigger", "Severity", "Snapshot",
    "SnapshotFilter", "Store", "StoreError",
]  # fmt: skip
