"""Rough sizes of the 63 former provinces and cities, to split national figures plausibly.

Population (millions, 2019 census, rounded) and GRDP (nghìn tỷ đồng, 2019, rounded), in
``simulator/data/province_sizes.csv``: only their proportions matter, and only for plausibility.
A unit missing there gets a middling size.
"""

from __future__ import annotations

import csv
from importlib import resources


def _sizes() -> dict[str, tuple[float, float]]:
    text = resources.files("simulator.data").joinpath("province_sizes.csv").read_text("utf-8")
    return {
        r["code"]: (float(r["population_millions"]), float(r["grdp_trillion_vnd"]))
        for r in csv.DictReader(text.splitlines())
    }


SIZES = _sizes()  # code -> (population, GRDP)

# Where the factories are: merchandise trade is far more concentrated than output.
TRADE_HUBS = {"27": 6.0, "19": 7.0, "74": 2.8, "75": 1.8, "24": 3.0, "31": 1.8, "26": 1.5, "79": 1.6, "01": 0.8}

# The provinces most hit by each COVID-19 wave (former codes), as multipliers of their share.
COVID_HOTSPOTS: list[tuple[str, str, dict[str, float]]] = [
    ("2020-01-23", "2020-04-30", {"26": 6.0, "01": 4.0, "79": 3.0}),
    ("2020-07-20", "2020-09-15", {"48": 80.0, "49": 30.0, "01": 2.0}),
    ("2021-01-25", "2021-03-25", {"30": 150.0, "22": 12.0, "01": 2.0}),
    ("2021-04-25", "2021-06-20", {"24": 30.0, "27": 25.0, "01": 3.0, "79": 2.0}),
    ("2021-06-20", "2021-10-31", {"79": 9.0, "74": 14.0, "75": 3.0, "80": 4.0, "82": 3.0, "92": 1.5}),
    ("2021-11-01", "2022-01-31", {"01": 4.0, "79": 1.5, "92": 2.0, "86": 2.0, "83": 2.0}),
    ("2022-02-01", "2022-05-31", {"01": 3.0}),
]


def size(code: str) -> tuple[float, float]:
    return SIZES.get(code, (1.2, 80.0))


def weight(code: str, grdp_exp: float, pop_exp: float) -> float:
    pop, grdp = size(code)
    return float(grdp**grdp_exp * pop**pop_exp)
