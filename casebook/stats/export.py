"""The statistics as files: JSON, CSV (one file per table) and XLSX (one sheet per table, laid out
like the report's tables: a title row, the period, Korean column headers, then the rows)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from assistant.core.cells import as_text, neutralise
from casebook.stats.queries import Stats, Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 4  # 1: title, 2: period, 3: blank, 4: headers, 5..: rows
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="E8EAF6")
_TOTAL_FILL = PatternFill("solid", fgColor="F5F5F5")


def to_json(stats: Stats) -> str:
    return json.dumps(stats.as_dict(), ensure_ascii=False, indent=2)


def csv_name(index: int, table: Table) -> str:
    return f"{index + 1:02d}_{table.key}.csv"


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(c) for c in table.columns])
    w.writerows(["" if v is None else neutralise(v) for v in row] for row in table.rows)  # labels are text
    return buf.getvalue()


def to_csv_dir(stats: Stats, folder: Path) -> list[Path]:
    """One CSV per table (UTF-8 with BOM, so spreadsheets show the Korean headers right)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, table in enumerate(stats.tables):
        path = folder / csv_name(i, table)
        path.write_text(table_csv(table), encoding="utf-8-sig", newline="")
        paths.append(path)
    return paths


def sheet_title(stats: Stats, table: Table) -> str:
    return f"{table.title} 현황 ({stats.period.label()})"


def to_xlsx(stats: Stats) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for table in stats.tables:
        ws = wb.create_sheet(table.title[:31])
        width = len(table.columns)
        ws.cell(1, 1, sheet_title(stats, table)).font = Font(bold=True, size=14)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        ws.cell(2, 1, f"기간: {stats.period.label()} (한국 시간)").font = Font(color="555555")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
        for c, name in enumerate(table.columns, start=1):
            cell = as_text(ws.cell(HEADER_ROW, c, neutralise(name)))
            cell.font, cell.fill, cell.border = Font(bold=True), _HEAD_FILL, _BOX
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for r, row in enumerate(table.rows, start=HEADER_ROW + 1):
            total = row[0] == "합계"
            for c, value in enumerate(row, start=1):
                cell = as_text(ws.cell(r, c, neutralise(value)))  # text never becomes a formula
                cell.border = _BOX
                if c == 1:
                    cell.font = Font(bold=True)
                    cell.alignment = Alignment(horizontal="center")
                elif isinstance(value, float):
                    cell.number_format = "0.0"
                elif isinstance(value, int):
                    cell.number_format = "#,##0"
                if total:
                    cell.fill = _TOTAL_FILL
        if table.note:
            ws.cell(HEADER_ROW + len(table.rows) + 2, 1, f"※ {table.note}").font = Font(size=9, color="555555")
        for c, name in enumerate(table.columns, start=1):
            longest = max([len(str(name))] + [len(str(row[c - 1])) for row in table.rows])
            ws.column_dimensions[get_column_letter(c)].width = min(40, max(10, longest * 2 + 2))
        ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
