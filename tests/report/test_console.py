"""report.console: value formatting, key/value tables and the quiet progress line off a terminal."""

from __future__ import annotations

from hopfield_cli.report.console import cell_progress, format_value, key_value_table


def test_format_value():
    assert format_value(True) == "yes" and format_value(False) == "no"
    assert format_value(1234567) == "1,234,567"
    assert format_value(0.5) == "0.5" and format_value(0.0) == "0"
    assert format_value(1e-5) == "1.000e-05" and format_value(2e7) == "2.000e+07"
    assert format_value("x") == "x"


def test_key_value_table_formats_rows():
    table = key_value_table("t", [("n", 1000), ("ok", True)])
    assert table.title == "t" and table.row_count == 2
    assert list(table.columns[1].cells) == ["1,000", "yes"]


def test_cell_progress_off_a_terminal_prints_one_line(capsys):
    with cell_progress("cells", total=3) as bar:
        bar.advance()
        bar.set_total(4)
        bar.advance(2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cells: 3/4 cells in ")
