"""Units as each language writes them, and how figures in each unit are usually shown.

The catalogue's units are Vietnamese (storage/reference/indicators.csv); English writes them in
English. A unit not listed here (an indicator added by configuration) is shown as given, with
scale 1 and one decimal.
"""

from __future__ import annotations

from wording.numbers import Lang

UNITS_EN = {
    "%": "%",
    "%/năm": "%/year",
    "VND/USD": "VND/USD",
    "ca": "cases",
    "cuộc gọi": "calls",
    "doanh nghiệp": "enterprises",
    "dịch vụ": "services",
    "giao dịch": "transactions",
    "hệ thống": "systems",
    "hồ sơ": "dossiers",
    "lượt": "visits",
    "nghìn lượt": "thousand arrivals",
    "nghìn tấn": "thousand tonnes",
    "nghìn tỷ đồng": "trillion VND",
    "phản ánh": "petitions",
    "triệu người": "million people",
    "tài khoản": "accounts",
    "tỷ USD": "billion USD",
    "tỷ kWh": "billion kWh",
    "tỷ đồng": "billion VND",
    "văn bản": "documents",
    "vụ": "incidents",
}

# One of a unit in base units (đồng, USD, people, tonnes, kWh, arrivals): to compare magnitudes.
UNIT_SCALE = {
    "nghìn tỷ đồng": 1e12,
    "tỷ đồng": 1e9,
    "tỷ USD": 1e9,
    "tỷ kWh": 1e9,
    "triệu người": 1e6,
    "nghìn lượt": 1e3,
    "nghìn tấn": 1e3,
}
# Digits usually shown after the decimal mark, by unit, and the few indicators written otherwise.
UNIT_DECIMALS = {
    "%": 2,
    "%/năm": 2,
    "VND/USD": 0,
    "nghìn tỷ đồng": 1,
    "tỷ đồng": 1,
    "tỷ USD": 2,
    "tỷ kWh": 2,
    "triệu người": 2,
    "nghìn lượt": 1,
    "nghìn tấn": 1,
}
COUNT_UNITS = frozenset(
    {"ca", "cuộc gọi", "doanh nghiệp", "dịch vụ", "giao dịch", "hệ thống", "hồ sơ", "lượt"}
    | {"phản ánh", "tài khoản", "văn bản", "vụ"}
)
INDICATOR_DECIMALS = {"IIP_YOY": 1}
DEFAULT_DECIMALS = 1
# Units written against the figure, without a space (4,4%); every other unit follows a space.
_ATTACHED = ("%",)


def unit_label(unit: str, lang: Lang) -> str:
    return UNITS_EN.get(unit, unit) if lang == "en" else unit


def scale_of(unit: str) -> float:
    return UNIT_SCALE.get(unit, 1.0)


def decimals_of(code: str, unit: str) -> int:
    """The digits usually shown after the decimal mark for an indicator (0 for counts)."""
    if code in INDICATOR_DECIMALS:
        return INDICATOR_DECIMALS[code]
    if unit in COUNT_UNITS:
        return 0
    return UNIT_DECIMALS.get(unit, DEFAULT_DECIMALS)


def with_unit(number: str, unit: str) -> str:
    """``4,4`` and ``%`` → ``4,4%``; ``48,52`` and ``tỷ USD`` → ``48,52 tỷ USD`` (no unit: the number)."""
    if not unit:
        return number
    return number + unit if unit.startswith(_ATTACHED) else f"{number} {unit}"
