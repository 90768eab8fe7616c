"""Reference data shipped with the product: administrative units, agencies, categories, indicators.

Read from the CSV files in this package (copied from the national catalogue) and loaded into the
database on first start; ``load_*`` return validated models.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from storage.models import NATION, Agency, Area, Category, Indicator, IndicatorKind

V = TypeVar("V", Area, Agency)

# The key national indicators: the wall page's tiles (feed/static/settings.js, TILES, which keeps
# its own copy for the browser), the console's overview and the briefing's (briefing/). Defined here once for the server.
KEY_INDICATORS: tuple[str, ...] = (
    "GDP_GROWTH",
    "CPI_YOY",
    "IIP_YOY",
    "RETAIL_SALES",
    "EXPORTS",
    "IMPORTS",
    "FDI_REGISTERED",
    "BUDGET_REVENUE",
    "CREDIT_GROWTH",
    "USD_CENTRAL_RATE",
    "UNEMPLOYMENT_RATE",
    "INTL_ARRIVALS",
)

NATION_AREA = Area(code=NATION, name_vi="Toàn quốc", kind="nation")


def _rows(name: str, path: Path | None = None) -> Iterator[dict[str, str]]:
    text = path.read_text(encoding="utf-8") if path else resources.files(__package__).joinpath(name).read_text("utf-8")
    yield from csv.DictReader(text.splitlines())


def _versioned(model: type[V], row: dict[str, str]) -> V:
    """A row of a versioned table (areas, agencies): an empty cell (no start, no end, no successor) is None."""
    return model.model_validate({k: v or None for k, v in row.items()})


def load_areas() -> list[Area]:
    return [NATION_AREA, *(_versioned(Area, r) for r in _rows("admin_units.csv"))]


def load_agencies() -> list[Agency]:
    return [_versioned(Agency, r) for r in _rows("agencies.csv")]


def load_categories() -> list[Category]:
    return [Category.model_validate(r) for r in _rows("categories.csv")]


def indicator_from_row(r: dict[str, Any]) -> Indicator:
    """One catalogue row (CSV columns of indicators.csv) as a validated Indicator."""
    kind, _, formula = (r.get("kind") or "").partition(":")
    magnitude = r.get("magnitude_2019", r.get("magnitude"))
    return Indicator(
        code=r["code"],
        name_vi=r["name_vi"],
        name_en=r["name_en"],
        unit=r["unit"],
        frequency=r["frequency"],
        category=r["category"],
        owner=r["owner"],
        level=r["level"],
        kind=IndicatorKind(kind),
        formula=formula or None,
        magnitude=float(magnitude) if magnitude not in (None, "") else None,
    )


def load_indicators(path: Path | None = None) -> list[Indicator]:
    return [indicator_from_row(r) for r in _rows("indicators.csv", path)]
