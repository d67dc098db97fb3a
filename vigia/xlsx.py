"""Typed XLSX sheets written row by row: a frozen bold header, an autofilter, set column widths,
safe text and clickable web links.

openpyxl's write-only mode streams rows to disk, so a week of mentions never sits in memory as
cells. Text of outside origin must not run: openpyxl stores a string starting with "=" as a
formula, so every text cell is typed as a string and carries Excel's quote-prefix flag (editing
the cell keeps it text); bidirectional controls and the control characters XML forbids are
removed. Excel has no time zones: a datetime is written as the wall-clock time it carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from collectors.text import web_url, without_bidi

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

DATETIME = "yyyy-mm-dd hh:mm"
INTEGER = "#,##0"
SHARE = "0.0%"
MAX_TEXT = 32_767  # characters Excel keeps in a cell; longer text is cut, marked with "…"
MAX_LINKS = 65_530  # hyperlinks Excel allows in one worksheet; later URLs stay plain text
MAX_LINK_LENGTH = 2_079  # characters Excel accepts in a link address; longer URLs stay text
_BOLD = Font(bold=True)


@dataclass(frozen=True)
class Column:
    """A column's header, width (in characters), Excel number format, and whether its web URLs
    are made clickable."""

    name: str
    width: float
    number_format: str = "General"
    link: bool = False


class Sheet:
    """A worksheet being written: the header is in; `append` adds one row of values (str,
    int, float, datetime or None), in the order of the columns."""

    def __init__(self, sheet: WriteOnlyWorksheet, columns: tuple[Column, ...]) -> None:
        self._sheet = sheet
        self.columns = columns
        self._rows = 1
        self._links = 0
        # Widths and panes precede the rows in the file, so they are set before the first row.
        for index, column in enumerate(columns, 1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        header = [self._text(column.name) for column in columns]
        for cell in header:
            cell.font = _BOLD
        sheet.append(header)

    def append(self, values: tuple[Any, ...] | list[Any]) -> None:
        """Add a row below the last one."""
        self._sheet.append([self._cell(v, c) for v, c in zip(values, self.columns, strict=True)])
        self._rows += 1

    def finish(self) -> None:
        """Put the autofilter over the header and every row written."""
        self._sheet.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self._rows}"

    def _cell(self, value: Any, column: Column) -> WriteOnlyCell | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return self._text(value, column.link)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)
        cell = WriteOnlyCell(self._sheet, value)
        cell.number_format = column.number_format
        return cell

    def _text(self, value: str, link: bool = False) -> WriteOnlyCell:
        text = ILLEGAL_CHARACTERS_RE.sub("", without_bidi(value))
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        cell = WriteOnlyCell(self._sheet, text)
        url = web_url(text) if link else ""
        if url and len(url) <= MAX_LINK_LENGTH and self._links < MAX_LINKS:
            cell.hyperlink = url
            cell.style = "Hyperlink"
            self._links += 1
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell


class Book:
    """An XLSX workbook of typed sheets, saved once every sheet is written."""

    def __init__(self) -> None:
        self._book = Workbook(write_only=True)
        self._sheets: list[Sheet] = []

    def sheet(self, title: str, columns: tuple[Column, ...]) -> Sheet:
        """A new sheet after the others, its header row written."""
        sheet = Sheet(self._book.create_sheet(title), columns)
        self._sheets.append(sheet)
        return sheet

    def save(self, file: IO[bytes]) -> None:
        """Write the workbook to an open binary file."""
        for sheet in self._sheets:
            sheet.finish()
        self._book.save(file)
