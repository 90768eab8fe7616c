"""Words and numbers as people read them, in Vietnamese and English: the one catalogue of texts
(``catalogue``), the one number formatter (``numbers``, CLDR data through Babel), units, periods and
alert texts. Imports none of our packages, so every layer (storage, collectors, feed, the console,
the CLI) renders from this same source; the wall page gets it from the server.
"""

from __future__ import annotations

from wording.alerts import RULES, Missing, alert_text, alert_text_or
from wording.catalogue import CATALOGUE, label
from wording.dates import day, moment, period
from wording.names import AreaName, IndicatorWords, Names
from wording.numbers import LANGS, Lang, number
from wording.units import decimals_of, scale_of, unit_label, with_unit

__all__ = [
    "CATALOGUE", "LANGS", "RULES", "AreaName", "IndicatorWords", "Lang", "Missing", "Names", "alert_text", "alert_text_or",
    "day", "decimals_of", "label", "moment", "number", "period", "scale_of", "unit_label", "with_unit",
]  # fmt: skip
