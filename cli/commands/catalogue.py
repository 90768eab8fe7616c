"""Reading the catalogue and the figures: indicators, areas, a series' history with its provenance."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any

from pydantic import BaseModel
from rich.table import Table

from cli.common import EXIT_OK, Add, UserError, open_existing, out, parse_date, parse_moment_arg, print_json
from storage import Observation
from wording import decimals_of, label, number, unit_label

# Each language whole: a table in Vietnamese has Vietnamese headers, statuses and units; one in
# English has English ones (names of provinces stay as the law writes them).
WORDS: dict[str, dict[str, Any]] = {
    "vi": {
        "indicator_columns": ("mã", "tên chỉ tiêu", "đơn vị", "kỳ", "lĩnh vực", "cơ quan", "cấp"),
        "levels": {"national": "toàn quốc", "provincial": "tỉnh", "national+provincial": "toàn quốc, tỉnh"},
        "indicators": lambda n: f"{n} chỉ tiêu",
        "area_columns": ("mã", "tên", "loại", "hiệu lực từ", "đến"),
        "kinds": {"nation": "toàn quốc", "city": "thành phố", "province": "tỉnh"},
        "areas": lambda n, on: f"{n} tỉnh, thành phố có hiệu lực ngày {on}",
        "history_columns": (
            "kỳ",
            "giá trị",
            "trạng thái",
            "lần",
            "nguồn",
            "thu thập lúc (UTC)",
            "lượt thu",
            "dữ liệu gốc",
        ),
        "area": "địa bàn",
        "as_of": lambda t: f", theo số liệu đã có lúc {t} UTC",
        "figures": lambda n, periods, sources: f"{n} số liệu: {periods} kỳ, {sources} nguồn",
        "no_figures": "chưa có số liệu nào cho chuỗi này",
    },
    "en": {
        "indicator_columns": ("code", "indicator", "unit", "freq", "category", "owner", "level"),
        "levels": {},
        "indicators": lambda n: f"{n} indicators",
        "area_columns": ("code", "name", "kind", "in force from", "until"),
        "kinds": {},
        "areas": lambda n, on: f"{n} provinces and cities in force on {on}",
        "history_columns": ("period", "value", "status", "rev", "source", "collected at (UTC)", "run", "payload"),
        "area": "area",
        "as_of": lambda t: f", as known at {t} UTC",
        "figures": lambda n, periods, sources: (
            f"{n} figure{'s' if n != 1 else ''}: {periods} period{'s' if periods != 1 else ''} "
            f"from {sources} source{'s' if sources != 1 else ''}"
        ),
        "no_figures": "no figures for this series yet",
    },
}


async def cmd_indicators(args: argparse.Namespace) -> int:
    store = await open_existing(args)
    try:
        if args.category and args.category not in {c.code for c in await store.reference.categories()}:
            raise UserError(
                f"unknown category {args.category!r}; known: {', '.join(c.code for c in await store.reference.categories())}"
            )
        if args.agency and args.agency not in {a.code for a in await store.reference.agencies()}:
            raise UserError(f"unknown agency {args.agency!r}; see the agencies in `opscentre indicators --json`")
        items = await store.reference.indicators(category=args.category, agency=args.agency)
    finally:
        await store.close()
    w = WORDS[args.lang]
    rows = (
        (
            i.code,
            i.name_vi if args.lang == "vi" else i.name_en,
            unit_label(i.unit, args.lang),
            i.frequency.value,
            i.category,
            i.owner,
            w["levels"].get(i.level.value, i.level.value),
        )
        for i in items
    )
    return _listing(args, items, w["indicator_columns"], rows, w["indicators"](len(items)))


async def cmd_areas(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    store = await open_existing(args)
    try:
        items = await store.reference.areas_in_force(on)
    finally:
        await store.close()
    w = WORDS[args.lang]
    rows = (
        (a.code, a.name_vi, w["kinds"].get(a.kind, a.kind), str(a.valid_from or "—"), str(a.valid_to or "—"))
        for a in items
    )
    return _listing(args, items, w["area_columns"], rows, w["areas"](len(items), on.isoformat()))


def _listing(
    args: argparse.Namespace,
    items: Sequence[BaseModel],
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    total: str,
) -> int:
    """``items`` as their JSON (--json), else as a table of ``rows`` under ``columns``, then ``total``."""
    if args.json:
        print_json([i.model_dump(mode="json") for i in items])
        return EXIT_OK
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    out.print(table)
    out.print(total)
    return EXIT_OK


async def cmd_history(args: argparse.Namespace) -> int:
    store = await open_existing(args)
    try:
        ind = await store.reference.indicator(args.indicator)
        if ind is None:
            raise UserError(f"unknown indicator {args.indicator!r}; list them with `opscentre indicators`")
        if not store.reference.catalogue.areas.get(args.area):
            raise UserError(f"unknown area {args.area!r}; list them with `opscentre areas`")
        rows = await store.observations.history(ind.code, args.area, source=args.source, as_of=args.as_of)
        # Every revision of each revised figure up to the row shown (not later ones, with --as-of):
        # listed with --revisions, and always used so that no two revisions print alike.
        earlier: dict[int, list[Observation]] = {}
        for o in rows:
            if o.revision > 1:
                every = await store.observations.revisions(o.indicator, o.area, o.period, o.source)
                earlier[o.id] = [r for r in every if r.revision < o.revision]
    finally:
        await store.close()
    if args.json:
        items = []
        for o in rows:
            item = o.model_dump(mode="json")
            if args.revisions:
                item["earlier_revisions"] = [r.model_dump(mode="json") for r in earlier.get(o.id, [])]
            items.append(item)
        print_json(items)
        return EXIT_OK
    lang = args.lang
    w = WORDS[lang]
    as_of = ""
    if args.as_of:
        as_of = w["as_of"](args.as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    name = ind.name_vi if lang == "vi" else ind.name_en
    out.print(f"{ind.code} — {name} ({unit_label(ind.unit, lang)}), {w['area']} {args.area}{as_of}", markup=False)
    table = Table(*w["history_columns"])
    for o in rows:
        before = [r.value for r in earlier.get(o.id, [])]
        table.add_row(
            o.period, number(o.value, lang, decimals_of(ind.code, ind.unit), apart_from=before), label(f"status.{o.status.value}", lang),
            str(o.revision), o.source, o.collected_at.strftime("%Y-%m-%d %H:%M:%S"), str(o.run_id or "—"),
            (o.payload_digest or "—")[:12],
        )  # fmt: skip
        if not args.revisions:
            continue
        for r in reversed(earlier.get(o.id, [])):
            value = number(r.value, lang, decimals_of(ind.code, ind.unit), apart_from=[*before, o.value])
            table.add_row(
                "", f"[dim]{value}[/]", f"[dim]{label(f'status.{r.status.value}', lang)}[/]", f"[dim]{r.revision}[/]",
                f"[dim]{r.source}[/]", f"[dim]{r.collected_at.strftime('%Y-%m-%d %H:%M:%S')}[/]",
                f"[dim]{r.run_id or '—'}[/]", f"[dim]{(r.payload_digest or '—')[:12]}[/]",
            )  # fmt: skip
    if rows:
        out.print(table)
        periods, sources = len({o.period for o in rows}), len({o.source for o in rows})
        out.print(w["figures"](len(rows), periods, sources))
    else:
        out.print(w["no_figures"])
    return EXIT_OK


def register(add: Add) -> None:
    p = add("indicators", cmd_indicators, "list the indicator catalogue")
    p.add_argument("--category", help="only this category (e.g. KTVM)")
    p.add_argument("--agency", help="only indicators owned by this agency or its predecessors (e.g. NSO)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="names in Vietnamese or English")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("areas", cmd_areas, "list the provinces and centrally-run cities in force on a date")
    p.add_argument("--on", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: today)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="headers in Vietnamese or English")
    p.add_argument("--json", action="store_true")
    p = add("history", cmd_history, "show a series: every period's figure with its provenance")
    p.add_argument("indicator", metavar="INDICATOR")
    p.add_argument("--area", default="VN", help="area code (default: VN, the nation)")
    p.add_argument("--source", help="only figures from this source")
    p.add_argument("--as-of", type=parse_moment_arg, metavar="TIME", help="the series as the centre knew it at TIME")
    p.add_argument("--revisions", action="store_true", help="also show the earlier revisions of each figure")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="number format and names")
    p.add_argument("--json", action="store_true")
