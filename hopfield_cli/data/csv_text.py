"""Comma-separated numbers as a float64 matrix, for ``readers.read_array`` (a .csv pattern or query file).

One line per row; a first row without a single number is a header and is skipped; every other cell must be a
number, or the error names its line and column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hopfield_cli.errors import UsageError


def csv_shape(p: Path) -> tuple[int, int]:
    """(lines, cells of the first line): an upper bound of a CSV's rows and its width, by one streaming pass."""
    lines, first = 0, b""
    with open(p, "rb") as fh:
        while block := fh.read(1 << 20):
            if not first:
                first = block.split(b"\n", 1)[0]
            lines += block.count(b"\n")
    return max(lines, 1), first.count(b",") + 1


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(p: Path, field: str) -> np.ndarray:
    """Comma-separated numbers; a first row without a single number is a header and is skipped."""
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = [(line_no, row) for line_no, row in enumerate(csv.reader(fh), start=1)]
    except UnicodeDecodeError:
        raise UsageError(field, f"{p.name} is not a UTF-8 text file") from None
    except csv.Error as exc:
        raise UsageError(field, f"{p.name} is not a valid CSV file ({exc})") from None
    rows = [(n, [cell.strip() for cell in row]) for n, row in rows if any(cell.strip() for cell in row)]
    if rows and all(_parse_number(cell) is None for cell in rows[0][1]):
        rows = rows[1:]  # header
    if not rows:
        raise UsageError(field, f"{p.name} has no data rows")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, (line_no, row) in enumerate(rows):
        if len(row) != width:
            raise UsageError(
                field, f"{p.name} line {line_no} has {len(row)} columns; the first data row has {width}"
            )
        for j, cell in enumerate(row):
            number = _parse_number(cell)
            if number is None:
                shown = repr(cell) if cell else "an empty cell"
                raise UsageError(field, f"{p.name} line {line_no}, column {j + 1}: {shown} is not a number")
            values[i, j] = number
    return values
