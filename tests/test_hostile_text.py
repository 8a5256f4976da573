"""Text from files: control characters, open quotes, formulas, HTML and terminal markup."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.calendars import read_overrides
from backtest.cli import main
from backtest.commands._options import benchmark_overrides
from backtest.errors import CalendarError, EventsError, ParameterError
from backtest.events import load_events
from backtest.report.export import to_csv, to_markdown

HEADER = "event_id,name,announced_at,kind\n"


def _events(tmp_path, body: str):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters_in_events_name_the_line_and_column(tmp_path, char):
    path = _events(tmp_path, f"ok,Fine,2025-01-27,shock\nbad,Crash{char}here,2025-01-28,shock\n")
    with pytest.raises(EventsError, match=r"events.csv:3: column 'name': contains the control character"):
        load_events(path)


def test_tab_inside_a_name_is_text_not_a_control_error(tmp_path):
    events = load_events(_events(tmp_path, "ok,Tab\there,2025-01-27,shock\n"))
    assert events.loc[0, "name"] == "Tab\there"


def test_unclosed_quote_says_so_and_names_the_line_it_opened(tmp_path):
    path = _events(tmp_path, 'a,A,2025-01-27,shock\nb,"Open quote,2025-01-28,shock\nc,C,2025-01-29,shock\n')
    with pytest.raises(EventsError, match=r"events.csv:3: a quote opened on this line is never closed"):
        load_events(path)


def test_unclosed_quote_in_closures_is_refused(tmp_path):
    path = tmp_path / "closures.csv"
    path.write_text('calendar,date,action,note\nXKRX,2026-06-03,add_closure,"election\n', encoding="utf-8")
    with pytest.raises(CalendarError, match=r"closures.csv:2: a quote opened on this line is never closed"):
        read_overrides(path)


def test_control_character_in_closures_note(tmp_path):
    path = tmp_path / "closures.csv"
    path.write_text("calendar,date,action,note\nXKRX,2026-06-03,add_closure,vote\x00\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"closures.csv:2: column 'note': contains the control character"):
        read_overrides(path)


def test_huge_field_is_not_called_a_quoting_problem(tmp_path):
    path = _events(tmp_path, "big," + "x" * 2_000_000 + ",2025-01-27,shock\n")
    with pytest.raises(EventsError, match=r"events.csv:2: a field is longer than 131,072 characters") as info:
        load_events(path)
    assert "fix the quoting" not in str(info.value)


def test_symbol_as_its_own_benchmark_is_refused():
    with pytest.raises(ParameterError, match=r"cannot be its own benchmark"):
        benchmark_overrides(["NVDA=NVDA"])
    with pytest.raises(ParameterError, match=r"NVDA already has benchmark QQQ"):
        benchmark_overrides(["NVDA=QQQ", "NVDA=SPY"])


def test_formula_cells_are_neutralized_in_csv():
    frame = pd.DataFrame(
        {"name": ["=cmd|' /C calc'!A0", "+1+2", "@SUM(A1)", "-2+3", "-0.05", "Crash"], "x": [1.0] * 6}
    )
    lines = to_csv(frame).splitlines()
    # the OWASP rule: a leading = + - @ makes a spreadsheet evaluate the cell; a ' makes it text
    assert lines[1:] == ["'=cmd|' /C calc'!A0,1", "'+1+2,1", "'@SUM(A1),1", "'-2+3,1", "-0.05,1", "Crash,1"]


def test_markdown_escapes_html():
    text = to_markdown(pd.DataFrame({"name": ["<img src=x onerror=alert(1)>", "</td><!-- x", "p < 0.01"]}))
    assert "&lt;img src=x onerror=alert(1)>" in text and "&lt;/td>&lt;!-- x" in text
    assert "<img" not in text and "</td>" not in text and "<!--" not in text
    assert "p < 0.01" in text  # not a tag: left readable


MARKUP = ["Crash [/]", "[link=https://example.com]x[/link]", "[bold red]loud", ":smile:"]


@pytest.mark.parametrize("name", MARKUP)
def test_names_reach_the_terminal_as_written(tmp_path, capsys, name):
    quoted = '"' + name.replace('"', '""') + '"'
    path = _events(tmp_path, f"e1,{quoted},2025-01-27T08:00:00-05:00,shock\n")
    code = main(["events", str(path), "--symbols", "NVDA"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert name in captured.out
