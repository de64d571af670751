"""The one function every CSV/XLSX export passes its cells through (security review, finding 4)."""
from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from assistant.core.cells import neutralise
from casebook.stats import export
from casebook.stats.queries import Period, Stats, Table


def test_formula_starts_are_quoted_and_the_rest_is_left_alone():
    for value in ("=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"):
        assert neutralise(value) == "'" + value
    for value in ("합계", "https://x.example/a", "seller_one", "", 3, -2, 1.5, None):
        assert neutralise(value) == value  # numbers stay numbers
    assert neutralise("\x00=1") == "\ufffd=1" and neutralise("a\x1bb\x0c") == "a\ufffdb\ufffd"  # not XML


def test_statistics_exports_keep_labels_as_text():
    table = Table(key="channels", title="경로", columns=["=경로", "건수"],
                  rows=[['=HYPERLINK("https://evil.example","x")', 3], ["-1+1", -2], ["합계", 1]])
    stats = Stats(period=Period(date(2025, 1, 1), date(2025, 12, 31)), summary={}, tables=[table])

    rows = list(csv.reader(io.StringIO(export.table_csv(table))))
    assert rows == [["'=경로", "건수"], ['\'=HYPERLINK("https://evil.example","x")', "3"], ["'-1+1", "-2"],
                    ["합계", "1"]]

    ws = load_workbook(io.BytesIO(export.to_xlsx(stats))).active
    header, first, second = (export.HEADER_ROW + i for i in range(3))
    assert ws.cell(header, 1).value == "'=경로" and ws.cell(header, 1).data_type == "s"
    assert ws.cell(first, 1).value.startswith("'=HYPERLINK") and ws.cell(first, 1).data_type == "s"
    assert ws.cell(second, 1).value == "'-1+1"
    assert ws.cell(first, 2).value == 3 and ws.cell(second, 2).value == -2  # counts are still numbers
