"""Alert texts from the one catalogue (wording/alerts.py): every rule, both languages, names for codes,
units, the digits a revision needs and no more; and the store keeps exactly the catalogue's text."""

from __future__ import annotations

import pytest

from storage import Severity, Store
from storage.models import AlertParams
from tests.wording_samples import SAMPLES, Sample, check_text
from wording import LANGS, Lang, Names, alert_text, alert_text_or


@pytest.fixture
async def names(store: Store) -> Names:
    store.reference.source_agencies = {"nso": "NSO", "mof": "MOF", "cus": "CUS", "sbv": "SBV", "vnat": "VNAT"}
    return await store.reference.names()


def text(sample: Sample, lang: Lang, names: Names) -> str:
    rule, severity, subject, params = sample
    return alert_text(rule, params, lang, names, subject=subject, severity=severity)


def sample(rule: str, n: int = 0) -> Sample:
    return [s for s in SAMPLES if s[0] == rule][n]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", SAMPLES, ids=lambda s: f"{s[0]}-{s[2]}")
async def test_every_rule_is_worded_with_names_units_and_just_the_digits_it_needs(
    names: Names, case: Sample, lang: Lang
) -> None:
    check_text(text(case, lang, names), lang, case, names)


async def test_the_issues_three_wordings_now_read_as_one(names: Names) -> None:
    provinces = sample("crosscheck.provinces")
    assert text(provinces, "vi", names) == (
        "Tổng 33/34 tỉnh, thành phố của Kim ngạch xuất khẩu hàng hóa, tháng 10/2026 là 48,52 tỷ USD, "
        "đã vượt số cả nước 45,01 tỷ USD theo Cục Hải quan (Bộ Tài chính) [cus]"
    )
    assert text(provinces, "en", names) == (
        "33 of 34 provinces' Merchandise exports, October 2026, already add up to 48.52 billion USD, "
        "above the national 45.01 billion USD from Customs Department (Ministry of Finance) [cus]"
    )
    counter = sample("counter.decreased")
    assert text(counter, "vi", names) == (
        "Bộ đếm giảm: Số hồ sơ đồng bộ trạng thái, Toàn quốc: 655.932.646 hồ sơ → 590.339.387 hồ sơ (lúc 2026-12-07 08:00)"
    )
    late = sample("report.late")
    assert text(late, "vi", names) == (
        "Tỉnh Cao Bằng chưa gửi báo cáo Tỷ lệ thất nghiệp của lực lượng lao động trong độ tuổi, quý III/2026 "
        "(hạn 25/10/2026)"
    )
    assert text(sample("source.failing"), "en", names) == (
        "Source Ministry of Finance [mof] failed (the source answered HTTP 503)"  # not "failed 1 times"
    )


async def test_a_revision_gets_just_the_digits_that_tell_it_apart(names: Names) -> None:
    retail, small = sample("figures.revised"), sample("figures.revised", 1)
    assert "1.234.567,1 nghìn tỷ đồng → 1.234.567,4 nghìn tỷ đồng" in text(retail, "vi", names)
    assert "-1.11% → -1.111%" in text(small, "en", names)  # 2 decimals would read "-1.11%" twice


async def test_a_unit_is_named_as_it_was_in_the_period(names: Names) -> None:
    tien_giang = sample("report.late", 1)
    assert text(tien_giang, "vi", names).startswith("Tỉnh Tiền Giang chưa gửi báo cáo")
    now = (tien_giang[0], tien_giang[1], tien_giang[2], {**tien_giang[3], "period": "2026-05", "due": "2026-06-25"})
    assert text(now, "vi", names).startswith("Tỉnh Đồng Tháp chưa gửi báo cáo")


async def test_missing_params_give_the_stored_text_and_unknown_rules_say_so(names: Names) -> None:
    assert alert_text_or("Thông điệp đã lưu", "source.failing", {"source": "mof"}, "en", names) == "Thông điệp đã lưu"
    assert alert_text("feed.lagging", {}, "en", names, subject="x") == "Alert feed.lagging: x"


@pytest.mark.parametrize("case", SAMPLES, ids=lambda s: f"{s[0]}-{s[2]}")
async def test_the_store_keeps_the_catalogues_text_in_both_languages(store: Store, names: Names, case: Sample) -> None:
    rule, severity, subject, params = case
    alert = await store.alerts.fire(rule, subject, Severity(severity), params=AlertParams.model_validate(params))
    assert alert is not None
    assert (alert.message, alert.message_en) == (text(case, "vi", names), text(case, "en", names))
