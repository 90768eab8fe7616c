"""Reference data: the 63 units of 2020, the 34 since 2025-07-01 and who became whom; agencies;
the catalogue; Vietnamese names stored and returned NFC-normalised."""

from __future__ import annotations

import sqlite3
import unicodedata
from datetime import date

import pytest

from storage import Batch, Indicator, ObservationIn, Store, StoreError


async def test_63_units_in_2020_and_34_since_the_merger(store: Store) -> None:
    assert len(await store.reference.areas_in_force(date(2020, 8, 19))) == 63
    assert len(await store.reference.areas_in_force(date(2026, 1, 1))) == 34
    assert len(await store.reference.areas_in_force(date(2025, 6, 30))) == 63  # last day before the merger
    assert len(await store.reference.areas_in_force(date(2025, 7, 1))) == 34
    with_nation = await store.reference.areas_in_force(date(2026, 1, 1), include_nation=True)
    assert with_nation[0].code == "VN" and len(with_nation) == 35


async def test_ha_giang_became_tuyen_quang(store: Store) -> None:
    before = await store.reference.successor("02", date(2025, 6, 30))
    assert (before.code, before.name_vi) == ("02", "Tỉnh Hà Giang")
    after = await store.reference.successor("02", date(2026, 1, 1))
    assert (after.code, after.name_vi, after.valid_from) == ("08", "Tỉnh Tuyên Quang", date(2025, 7, 1))
    merged = await store.reference.predecessors("08", date(2026, 1, 1))
    assert {(a.code, a.name_vi) for a in merged} == {("02", "Tỉnh Hà Giang"), ("08", "Tỉnh Tuyên Quang")}


async def test_every_old_unit_maps_to_a_unit_in_force_today(store: Store) -> None:
    in_force = {a.code for a in await store.reference.areas_in_force(date(2026, 1, 1))}
    for old in await store.reference.areas_in_force(date(2020, 8, 19)):
        assert (await store.reference.successor(old.code, date(2026, 1, 1))).code in in_force


async def test_hue_became_a_city_in_2025(store: Store) -> None:
    assert (await store.reference.successor("46", date(2024, 6, 1))).name_vi == "Tỉnh Thừa Thiên Huế"
    assert (await store.reference.successor("46", date(2026, 1, 1))).name_vi == "Thành phố Huế"


async def test_unknown_area_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown area 'ZZ'"):
        await store.reference.successor("ZZ", date(2026, 1, 1))


async def test_indicators_by_category_and_agency(store: Store) -> None:
    assert len(await store.reference.indicators()) == 40
    dvc = {i.code for i in await store.reference.indicators(category="DVC")}
    assert {"PORTAL_VISITS", "LEVEL4_SERVICE_SHARE", "EDOCS_EXCHANGED"} <= dvc
    assert all(i.category == "DVC" for i in await store.reference.indicators(category="DVC"))
    # The Ministry of Planning and Investment merged into Finance: MOF answers for MPI's indicators.
    mof = {i.code for i in await store.reference.indicators(agency="MOF")}
    assert {"BUDGET_REVENUE", "FDI_REGISTERED", "NEW_ENTERPRISES"} <= mof
    assert {i.code for i in await store.reference.indicators(agency="MPI")} == {
        i.code for i in await store.reference.indicators() if i.owner == "MPI"
    }
    trade = await store.reference.indicator("TRADE_BALANCE")
    assert trade is not None and trade.kind.value == "derived" and trade.formula == "EXPORTS-IMPORTS"
    assert await store.reference.indicators(category="DVC", agency="SBV") == []


async def test_vietnamese_names_are_nfc_everywhere(store: Store) -> None:
    decomposed = unicodedata.normalize("NFD", "Số lượt khách du lịch nội địa")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    extra = Indicator(
        code="DOMESTIC_TOURISTS", name_vi=decomposed, name_en="Domestic tourists",
        unit=unicodedata.normalize("NFD", "triệu lượt"), frequency="M", category="TMXNK", owner="VNAT",
        level="national", kind="flow",
    )  # fmt: skip
    await store.reference.upsert_indicators([extra])
    got = await store.reference.indicator("DOMESTIC_TOURISTS")
    assert (
        got is not None
        and got.name_vi == "Số lượt khách du lịch nội địa"
        and unicodedata.is_normalized("NFC", got.name_vi)
    )
    result = await store.observations.ingest(
        Batch("vnat", [ObservationIn(indicator="DOMESTIC_TOURISTS", area="VN", period="2024-01", value=11.5)])
    )
    assert result.new == 1

    conn = sqlite3.connect(store.path)
    try:
        for table, column in (
            ("areas", "name_vi"),
            ("agencies", "name_vi"),
            ("indicators", "name_vi"),
            ("indicators", "unit"),
            ("categories", "name_vi"),
        ):
            for (text,) in conn.execute(f"SELECT {column} FROM {table}"):
                assert unicodedata.is_normalized("NFC", text), (table, text)
    finally:
        conn.close()
    for a in await store.reference.areas_in_force(date(2020, 1, 1)):
        assert unicodedata.is_normalized("NFC", a.name_vi)


async def test_the_areas_in_force_and_the_catalogue_are_answered_from_memory_as_the_tables_say(store: Store) -> None:
    """The rules ask which areas are in force after every run: answered from the catalogue in memory
    (the areas are written once, when the store opens), the same as the table's."""
    sql = (
        "SELECT code FROM areas WHERE valid_from <= ?1 AND ?1 <= valid_to AND (?2 OR kind != 'nation') "
        "ORDER BY kind = 'nation' DESC, code"
    )
    for day in (date(2000, 1, 1), date(2020, 8, 19), date(2025, 6, 30), date(2025, 7, 1), date(2030, 1, 31)):
        for nation in (False, True):
            table = [r[0] for r in await store.read_rows(sql, (day.isoformat(), nation))]
            assert [a.code for a in await store.reference.areas_in_force(day, include_nation=nation)] == table
    indicators = await store.reference.indicators()
    assert store.reference.listed() == sorted(indicators, key=lambda i: (i.category, i.code))
    assert [i.code for i in store.reference.listed({"CPI_YOY", "EXPORTS"})] == sorted(["CPI_YOY", "EXPORTS"])
