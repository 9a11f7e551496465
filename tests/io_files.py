"""Fixture files for the import tests, written the way each program writes them."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any


def csv_file(
    folder: Path, name: str, lines: list[str], *, encoding: str = "utf-8", newline: str = "\n"
) -> Path:
    """A delimited text file; encoding 'cp932' with CRLF is how Excel saves 'CSV (comma)'."""
    path = folder / name
    data = (newline.join(lines) + newline).encode(encoding)
    path.write_bytes(data)
    return path


def excel_csv(folder: Path, name: str, lines: list[str]) -> Path:
    """Excel's Japanese 'CSV (comma delimited)': cp932, CRLF, no BOM."""
    path = csv_file(folder, name, lines, encoding="cp932", newline="\r\n")
    assert not path.read_bytes().startswith(codecs.BOM_UTF8)
    return path


def xlsx_file(folder: Path, name: str, rows: list[list[Any]], sheet: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    path = folder / name
    book.save(path)
    return path
