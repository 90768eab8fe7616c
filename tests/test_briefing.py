"""The leaders' briefing of the demo's data (briefing/, docs/briefing.md): rendered to PDF, every page
turned into a picture (pdftoppm) and its text extracted (pdftotext); the key indicators and the
province table are there, Vietnamese comes out whole (NFC, with its diacritics), every footnote names
a stored observation and its payload, and two briefings for one instant are the same content. Bad
arguments to `opscentre briefing` are refused clearly and write nothing."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.demokit import demo_service
from tests.simulator_fixtures import Clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PERIOD = "2026-11"
NOTE = re.compile(r"bản ghi #(\d+), lần sửa (\d+); dữ liệu gốc ([0-9a-f]{12}) sha256 ([0-9a-f]{64})")


def tool(name: str) -> str:
    """Debian's poppler-utils (`make briefing-tools`): never skipped, a missing one fails with the fix."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: install Debian's poppler-utils (make briefing-tools)")
    return found


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    """The demo's data: its sources' first polls and the statistics office's at +45 s (a revision)."""
    db = tmp_path_factory.mktemp("briefing") / "ops.db"
    clock = Clock()

    async def collect() -> datetime:
        async with demo_service(db, clock) as service:
            assert service.collector is not None
            start = clock()
            for second, names in ((1, sorted(service.collector.sources)), (45, ["nso"])):
                clock.set(start + timedelta(seconds=second))
                await service.collector.run_many(names)
                await asyncio.sleep(0.5)  # the rules timer's passes
            clock.set(start + timedelta(seconds=50))
            return clock()

    return db, asyncio.run(collect())


def pictures_and_text(path: Path) -> tuple[list[Path], list[str]]:
    """Every page as a PNG (pdftoppm) and its text (pdftotext)."""
    subprocess.run([tool("pdftoppm"), "-r", "40", "-png", str(path), str(path.parent / "page")], check=True)
    pages = sorted(path.parent.glob("page-*.png"))
    texts = [
        subprocess.run([tool("pdftotext"), "-f", str(n), "-l", str(n), str(path), "-"], check=True,
                       capture_output=True, text=True).stdout
        for n in range(1, len(pages) + 1)
    ]  # fmt: skip
    return pages, texts


async def made(db: Path, as_of: datetime, **kw: object) -> object:
    from briefing import make
    from storage import Store
    from storage.clock import ManualClock, use_clock

    store = await Store.open(str(db))
    try:
        with use_clock(ManualClock(as_of)):
            return await make(store, period=PERIOD, as_of=as_of, **kw)  # type: ignore[arg-type]
    finally:
        await store.close()


async def test_the_pdf_of_the_demo_holds_every_figure_with_its_source(
    demo_db: tuple[Path, datetime], tmp_path: Path
) -> None:
    from storage import Store
    from storage.reference import KEY_INDICATORS

    db, as_of = demo_db
    pdf = await made(db, as_of, fmt="pdf", lang="vi")
    path = tmp_path / "briefing.pdf"
    path.write_bytes(pdf.body)  # type: ignore[attr-defined]
    assert pdf.body.startswith(b"%PDF")  # type: ignore[attr-defined]
    pages, texts = await asyncio.to_thread(pictures_and_text, path)
    assert len(pages) >= 2 and all(p.stat().st_size > 2000 for p in pages)
    whole = "\n".join(texts)
    # Vietnamese intact: NFC, diacritics kept, a province by its full name.
    assert unicodedata.normalize("NFC", whole) == whole
    assert "Thành phố Hà Nội" in whole and "Các chỉ tiêu chủ yếu" in whole
    flat = " ".join(whole.split())
    store = await Store.open(str(db))
    try:
        names = {code: store.reference.catalogue.indicators[code].name_vi for code in KEY_INDICATORS}
        for code, name in names.items():
            assert " ".join(name.split()) in flat, code  # every key indicator, by name
        assert "Các tỉnh, thành phố:" in flat and "Hình thành từ" in flat  # the province table
        assert all(t.strip() for t in texts)  # no empty page
        # Every footnote resolves to a stored observation, its payload's digest, and those bytes.
        notes = NOTE.findall(flat)
        assert len(notes) >= len(KEY_INDICATORS)
        for obs_id, revision, short, digest in notes:
            provenance = await store.observations.provenance(int(obs_id))
            assert provenance is not None, obs_id
            assert provenance["observation"]["revision"] == int(revision) and digest.startswith(short)
            assert provenance["observation"]["payload_digest"] == digest
            assert provenance["payload"]["sha256"] == digest
            assert await store.observations.payload(digest) is not None
    finally:
        await store.close()


async def test_the_same_instant_gives_the_same_content(demo_db: tuple[Path, datetime]) -> None:
    db, as_of = demo_db
    first, second = await made(db, as_of, fmt="html"), await made(db, as_of, fmt="html")
    assert first.body == second.body and first.content_digest == second.content_digest  # type: ignore[attr-defined]
    pdf = await made(db, as_of, fmt="pdf")
    assert pdf.content_digest == first.content_digest  # type: ignore[attr-defined]
    earlier = await made(db, as_of - timedelta(seconds=20), fmt="html")  # before the revision at +45 s
    assert earlier.content_digest != first.content_digest  # type: ignore[attr-defined]
    english = await made(db, as_of, fmt="html", lang="en")
    assert b"Key indicators" in english.body  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "2026-13"], "month 13 is out of range"),
        (["--period", PERIOD, "--as-of", "2026-11-23T05:00"], "has no time zone"),
        (["--period", PERIOD, "--as-of", "2999-01-01T00:00Z"], "is in the future"),
        (["--period", PERIOD, "--as-of", "2001-01-01T00:00Z"], "held no figure"),
        (["--period", PERIOD, "--out", "/nonexistent/dir/b.pdf"], "no folder"),
        (["--period", PERIOD, "--indicator", "NOPE"], "unknown indicator"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    demo_db: tuple[Path, datetime], tmp_path: Path, args: list[str], says: str
) -> None:
    db, _ = demo_db
    out = tmp_path / "b.pdf"
    full = [*args, "--out", str(out)] if "--out" not in args else args
    done = run_cli("briefing", "--db", str(db), *full)
    assert done.returncode == 2, done
    assert says in done.stderr, done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_empty_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    assert run_cli("init-db", "--db", str(db)).returncode == 0
    done = run_cli("briefing", "--db", str(db), "--period", PERIOD, "--as-of", "2026-11-01T00:00Z",
                   "--out", str(tmp_path / "b.pdf"))  # fmt: skip
    assert done.returncode == 2 and "held no figure" in done.stderr, done
    assert not (tmp_path / "b.pdf").exists()
