"""Company names beside tickers: from the registry, and from the user's own registry file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from backtest.cli import main
from backtest.instruments import display_name, user_names


def test_user_registry_names_win_and_end_with_the_block(tmp_path: Path) -> None:
    names = tmp_path / "mine.csv"
    names.write_text("symbol,name,exchange\nnvda,Nvidia (my name),NASDAQ\n7203.T,Toyota Motor,TSE\n")
    with user_names(names):
        assert display_name("NVDA") == "Nvidia (my name)" and display_name("7203.T") == "Toyota Motor"
        assert display_name("000660.KS") == "SK Hynix"  # the packaged registry fills the rest
    assert display_name("NVDA") == "NVIDIA Corporation" and display_name("7203.T") == ""


def test_instruments_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = tmp_path / "mine.csv"
    names.write_text("symbol,name\nNVDA,Nvidia (my name)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["study", "--event", "deepseek_r1", "--symbols", "NVDA", "--car", "0:0",
                     "--instruments", str(names)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "Nvidia (my name)" in out and "NVIDIA Corporation" not in out


@pytest.mark.parametrize(
    ("text", "message"),
    [("ticker,name\nNVDA,x\n", "mine.csv:1: the header needs symbol and name"),
     ("symbol,name\nNVDA,\n", "mine.csv:2: column 'name': empty")],
)  # fmt: skip
def test_bad_registry_file_is_one_line(tmp_path: Path, capsys, text: str, message: str) -> None:
    names = tmp_path / "mine.csv"
    names.write_text(text)
    assert main(["events", "--instruments", str(names)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
