"""Tables from files: CSV/TSV in UTF-8, UTF-8 with BOM or cp932 (detected), and XLSX.

Rows stream: each is yielded with where it came from (the physical line of a CSV, header = 1;
the sheet and row of a workbook) so a report can point at it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from ..rules import limits

CHUNK = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls
Progress = Callable[[float], None]
UNCLOSED_QUOTE = _l(
    'A quotation mark (") opens a cell here that is never closed, so every line after it was '
    "read into that cell."
)


@dataclass(frozen=True)
class Where:
    """A row's place in its file: a CSV line, or a sheet and row of a workbook."""

    line: int
    sheet: str | None = None

    def label(self) -> str:
        if self.sheet is not None:
            return str(_l("Sheet %(sheet)s, row %(row)s", sheet=self.sheet, row=self.line))
        return str(_l("Line %(line)s", line=self.line))


class UnreadableFile(ValueError):
    """The file is not a table we can read; the message is a lazy translation."""

    def __init__(self, message: Any, line: int = 1) -> None:
        super().__init__(str(message))
        self.message = message
        self.line = line


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def detect_encoding(path: Path) -> str:
    """By BOM (UTF-8; UTF-16 as Excel's "Unicode Text"); else UTF-8 if it decodes, else cp932.

    Other text with NUL bytes (UTF-32, UTF-16 without a BOM, binaries) is refused: cp932 would
    decode it into garbage and the report would only say the header is wrong.
    """
    with open(path, "rb") as handle:
        start = handle.read(CHUNK)
        if start.startswith(OLE2_MAGIC):
            raise UnreadableFile(
                _l("This is an old Excel workbook (.xls). Save it as .xlsx or CSV and try again.")
            )
        if start.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        utf32 = start.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE))
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not utf32:
            return "utf-16"
        if b"\x00" in start:
            raise UnreadableFile(_l("The file is neither UTF-8 nor Shift_JIS (cp932) text."))
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp932"
    return "utf-8"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _delimiter(first_line: str, path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def _csv_rows(path: Path, progress: Progress | None) -> Iterator[tuple[Where, list[Any]]]:
    encoding = detect_encoding(path)
    size = max(path.stat().st_size, 1)
    with open(path, "rb", buffering=CHUNK) as raw:
        delimiter = _delimiter(raw.readline().decode(encoding, errors="replace"), path)
        raw.seek(0)
        handle = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        quotes = [0]  # '"' characters read so far

        def lines() -> Iterator[str]:
            for line in handle:
                quotes[0] += line.count('"')
                yield line

        reader = csv.reader(lines(), delimiter=delimiter)
        start = 1
        open_quote = False
        try:
            for n, row in enumerate(reader):
                where = Where(start)
                # A quote opened and never closed swallows every later line into one cell (the
                # csv module does not complain): a record over several lines with an odd count.
                counted, quotes[0] = quotes[0], 0
                open_quote = reader.line_num > start and counted % 2 == 1
                start = reader.line_num + 1
                if progress is not None and n % 5000 == 0:
                    progress(min(raw.tell() / size, 1.0))
                if any(cell.strip() for cell in row):
                    yield where, row
            if open_quote:
                raise UnreadableFile(UNCLOSED_QUOTE, where.line)
        except UnicodeDecodeError:
            raise UnreadableFile(
                _l("The file is neither UTF-8 nor Shift_JIS (cp932) text.")
            ) from None
        except csv.Error as exc:
            # Past the field size limit: almost always a quote left open many lines above.
            if quotes[0] % 2 == 1:
                raise UnreadableFile(UNCLOSED_QUOTE, start) from None
            raise UnreadableFile(_l("Line %(line)s: %(error)s", line=start, error=exc)) from None


def check_workbook(path: Path) -> None:
    """Refuse a workbook that would unpack to too much (a zip bomb) or declares XML entities.

    Reading is bounded by the sizes the zip declares (zipfile never reads past them), so the
    check costs a look at the directory and the first bytes of each XML part.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(_l("The workbook cannot be read: %(error)s", error=exc)) from None
    mb = limits.MAX_XLSX_UNPACKED >> 20
    too_big = _l("The workbook unpacks to more than %(mb)s MB. Split it into smaller files.", mb=mb)
    with archive:
        members = archive.infolist()
        if len(members) > limits.MAX_XLSX_MEMBERS:
            raise UnreadableFile(too_big)
        if sum(m.file_size for m in members) > limits.MAX_XLSX_UNPACKED:
            raise UnreadableFile(too_big)
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > (1 << 20) and ratio > limits.MAX_XLSX_RATIO:
                raise UnreadableFile(too_big)
            if member.filename.endswith((".xml", ".rels")):
                with archive.open(member) as part:
                    head = part.read(4096).replace(b"\x00", b"").upper()
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    raise UnreadableFile(
                        _l("The workbook declares XML entities, which Excel never writes.")
                    )


def _xlsx_rows(path: Path, progress: Progress | None) -> Iterator[tuple[Where, list[Any]]]:
    from openpyxl import load_workbook

    check_workbook(path)
    # A file object, not the path: openpyxl refuses a path by its extension, and an upload is
    # stored without one (the web import page's XLSX files were refused as "not supported").
    handle = open(path, "rb")  # noqa: SIM115 (closed in the finally below)
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
        handle.close()
        raise UnreadableFile(_l("The workbook cannot be read: %(error)s", error=exc)) from None
    try:
        sheet = book.worksheets[0]
        total = max(sheet.max_row or 1, 1)
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if progress is not None and n % 5000 == 0:
                progress(min(n / total, 1.0))
            # openpyxl cuts a longer cell to Excel's limit: a cell that long was longer still.
            if any(isinstance(cell, str) and len(cell) >= limits.MAX_CELL for cell in row):
                raise UnreadableFile(
                    _l(
                        "Sheet %(sheet)s, row %(row)s: a cell reaches Excel's limit of %(n)s "
                        "characters.",
                        sheet=sheet.title,
                        row=n,
                        n=format(limits.MAX_CELL, ","),
                    ),
                    n,
                )
            if any(cell is not None and str(cell).strip() for cell in row):
                yield Where(n, sheet.title), list(row)
    finally:
        book.close()
        handle.close()


def iter_rows(path: Path, progress: Progress | None = None) -> Iterator[tuple[Where, list[Any]]]:
    """Every non-blank row of the file's first table, header first."""
    path = Path(path)
    rows = _xlsx_rows(path, progress) if is_xlsx(path) else _csv_rows(path, progress)
    yield from rows
    if progress is not None:
        progress(1.0)
