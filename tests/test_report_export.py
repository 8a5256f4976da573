"""Report files: JSON round-trip, byte-identical outputs of two runs, CSV formatting.

The pipeline runs twice per module on a small setting (2 events x 2 symbols, a
2-combination grid): once in-process, once through ``backtest run`` in a separate
process with another hash seed (set or dict order that depends on string hashing
would show up as different bytes). Everything else here is hand-made frames.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.pipeline import RunSettings, run_all
from backtest.report import export, results_file, write_report
from backtest.report.export import dumps_results, load_results, loads_results, to_csv, to_markdown
from backtest.report.tables import reaction_table, recovery_table, strategy_table

EVENTS = """\
event_id,name,announced_at,timezone,kind,description,source,symbols
deepseek_r1,DeepSeek R1 AI-chip sell-off,2025-01-26T18:00:00-05:00,America/New_York,shock,R1 release,https://example.com/deepseek,
meta_compute,Meta Compute,2026-07-01T08:00:00-04:00,America/New_York,shock,"Meta rents out spare compute",,
"""


def small_settings(events: Path) -> RunSettings:
    return RunSettings(
        events=str(events),
        symbols=("NVDA", "000660.KS"),
        grid=(("threshold", (0.05,)), ("hold", (5, 10))),
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, Path]:
    base = tmp_path_factory.mktemp("export")
    events = base / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    first = run_all(small_settings(events))
    write_report(first, base / "one")
    argv = ["run", "--events", str(events), "--symbols", "NVDA", "000660.KS"]
    argv += ["--grid", "threshold=0.05", "hold=5,10", "--out", str(base / "two"), "--quiet"]
    env = dict(os.environ, PYTHONHASHSEED="12345")
    done = subprocess.run(
        [sys.executable, "-m", "backtest.cli", *argv], cwd=base, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return first, base / "one", base / "two"


def test_two_runs_write_identical_bytes(two_runs: tuple[object, Path, Path]) -> None:
    _, one, two = two_runs
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    # every CSV, Markdown and JSON file, and the HTML report (SVG charts with a fixed hash salt)
    expected = {"results.json", "report.html", "car.csv", "reactions.csv", "equity.csv", "summary.md"}
    assert expected <= set(names)
    different = [name for name in names if (one / name).read_bytes() != (two / name).read_bytes()]
    assert different == []


def test_json_round_trips_every_table_and_the_settings(two_runs: tuple[object, Path, Path]) -> None:
    run, one, _ = two_runs
    loaded = load_results(one / "results.json")
    tables = run.tables()
    assert sorted(loaded.tables) == sorted(tables)  # keys are sorted in the file
    for name, frame in tables.items():
        expected = frame.reset_index(drop=True)
        pd.testing.assert_frame_equal(loaded.tables[name], expected, check_exact=True, obj=name)
    assert loaded.settings["symbols"] == ["NVDA", "000660.KS"]
    assert loaded.settings["grid_run"] == {"threshold": [0.05], "hold": [5, 10]}
    assert loaded.provenance["package_version"] == __import__("backtest").__version__
    assert len(loaded.provenance["price_sha256"]) == 64


def test_reaction_csv_matches_the_snapshot_reference(two_runs: tuple[object, Path, Path]) -> None:
    # PROVENANCE.md event-day table: NVDA 2025-01-27 -16.97 %; 000660.KS first KRX session after
    # DeepSeek is 2025-01-31: -9.86 %; 000660.KS 2026-07-02 (Meta Compute, day 0 in Seoul) -14.57 %.
    # Rounded to 0.01 % in the table, so tolerance 0.005 % = 5e-5.
    _, one, _ = two_runs
    reactions = pd.read_csv(one / "reactions.csv")
    day0 = reactions.set_index(["event_id", "symbol"])["day0_return"]
    assert day0[("deepseek_r1", "NVDA")] == pytest.approx(-0.1697, abs=5e-5)
    assert day0[("deepseek_r1", "000660.KS")] == pytest.approx(-0.0986, abs=5e-5)
    assert day0[("meta_compute", "000660.KS")] == pytest.approx(-0.1457, abs=5e-5)


def test_edge_case_frame_round_trips_exactly() -> None:
    frame = pd.DataFrame(
        {
            "name": ["<b>a</b>", 'ü, "quoted"', None],
            "value": [0.1 + 0.2, math.nan, -math.inf],  # 0.30000000000000004 must survive exactly
            "count": np.array([1, 2, 3], dtype="int64"),
            "flag": [True, False, True],
            "date": pd.to_datetime(["2025-01-27", None, "2026-07-02"]),
            "at": pd.to_datetime(["2025-01-26 23:00", "2025-04-02 20:00", None]).tz_localize("UTC"),
            "local": pd.to_datetime(["2025-01-26 23:00", "2025-07-02 20:00", "2025-03-09 07:30"])
            .tz_localize("UTC")
            .tz_convert("America/New_York"),  # EST and EDT offsets in one column
            "symbols": [("NVDA", "000660.KS"), (), None],
            "mixed_zones": pd.Series(  # one column, two time zones (like align_events' announced_local)
                [
                    pd.Timestamp("2025-01-26 18:00", tz="America/New_York"),
                    pd.Timestamp("2025-01-27 08:00", tz="Asia/Seoul"),
                    pd.NaT,
                ],
                dtype=object,
            ),
        }
    )
    text = dumps_results({"edge": frame, "empty": frame.iloc[:0]}, settings={"window": (-5, 20)})
    back = loads_results(text)
    pd.testing.assert_frame_equal(back.tables["edge"], frame, check_exact=True)
    empty = frame.iloc[:0].reset_index(drop=True)
    pd.testing.assert_frame_equal(back.tables["empty"], empty, check_exact=True)
    assert back.tables["edge"].loc[0, "value"] == 0.30000000000000004
    assert back.settings == {"window": [-5, 20]}
    assert dumps_results({"edge": frame}, {}) == dumps_results({"edge": frame.copy()}, {})


def test_csv_uses_fixed_float_format_and_joins_tuples() -> None:
    frame = pd.DataFrame({"x": [0.1 + 0.2, 1 / 3, math.nan], "s": [("A", "B"), (), None]})
    # %.10g: 0.30000000000000004 -> 0.3, 1/3 -> 0.3333333333; NaN -> empty cell
    assert to_csv(frame) == "x,s\n0.3,A B\n0.3333333333,\n,\n"


def test_loader_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(DataError, match="not a backtest results file"):
        load_results(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"other\.json:1: not valid JSON"):
        load_results(path)


def test_display_tables_show_percent_and_significance_marks() -> None:
    # hand-made study output: CAR -13.33 % with p = 0.004 -> "***"; p = 0.07 -> "*"; p = 0.5 -> none
    ar = pd.DataFrame(
        {
            "event_id": ["e", "e"],
            "symbol": ["X", "Y"],
            "rel_day": [0, 0],
            "return": [-0.1697, 0.0],
            "ar": [-0.1333, 0.0],
        }
    )
    car = pd.DataFrame(
        {
            "event_id": ["e", "e", "e", "e"],
            "symbol": ["X", "Y", "X", "Y"],
            "window": ["[0,0]", "[0,0]", "[0,+5]", "[0,+5]"],
            "car": [-0.1333, 0.0, -0.2, 0.01],
            "p_value": [0.004, 0.5, 0.07, math.nan],
        }
    )
    table = reaction_table(ar, car)
    shown = table.formatted()
    assert shown.columns.tolist() == [
        "event_id",
        "symbol",
        "name",  # the registry's company name ("" for symbols it does not list)
        "day0_return",
        "day0_ar",
        "CAR [0,0]",
        "CAR [0,+5]",
    ]
    assert shown.iloc[0].tolist() == ["e", "X", "", "-16.97 %", "-13.33 %", "-13.33 %***", "-20.00 %*"]
    # returns show their sign, as in `backtest study` (+1.00 %); zero has none
    assert shown.iloc[1].tolist() == ["e", "Y", "", "0.00 %", "0.00 %", "0.00 %", "+1.00 %"]
    assert table.frame.loc[0, "CAR [0,0]"] == -0.1333  # fractions inside, percent only when shown
    markdown = to_markdown(shown, "t")
    assert "| -13.33 %*** |" in markdown


def test_returns_are_signed_shares_and_rates_are_not() -> None:
    # hand-made aggregate: 3 of 4 pairs traded; mean return over all pairs +1.38 % (the untraded
    # pair counts 0), so over the traded ones 0.0138 * 4 / 3 = +1.84 %; excess -2.5 % (all) and
    # -1 % (traded); 3 of 4 pairs with a gain = 75 %, win rate 0.5 = 50 %; signs on returns only
    aggregate = pd.DataFrame(
        {
            "combo": ["hold=5"],
            "pairs": [4],
            "traded": [3],
            "mean_return": [0.0138],
            "mean_return_traded": [0.0184],
            "mean_excess_vs_buy_hold_traded": [-0.01],
            "median_return": [0.0],
            "positive_share": [0.75],
            "mean_excess_vs_buy_hold": [-0.025],
            "mean_excess_vs_benchmark": [0.1],
            "win_rate": [0.5],
            "avg_trade": [0.004],
            "trades": [6],
        }
    )
    table = strategy_table(aggregate, "buy_the_dip")
    row = dict(zip([table.header(c) for c in table.shown_columns()], table.formatted().iloc[0], strict=True))
    row = {" ".join(k.split()): v for k, v in row.items()}  # two-line headers
    assert row == {
        "parameters": "hold=5", "pairs": "4", "traded": "3", "mean traded": "+1.84 %",
        "mean all pairs": "+1.38 %", "share > 0": "75.00 %", "vs buy&hold traded": "-1.00 %",
        "vs buy&hold all pairs": "-2.50 %", "vs bench all pairs": "+10.00 %", "win rate": "50.00 %",
        "avg trade": "+0.40 %", "trades": "6",
    }  # fmt: skip
    # a relief event's run-up is a positive move: +66.16 %; the day-0 return +18.72 %
    recovery = pd.DataFrame(
        {"event_id": ["e"], "symbol": ["NVDA"], "path": ["price"], "direction": ["give_back"],
         "reaction_return": [0.1872], "max_drawdown": [0.6616], "trough_rel_day": [40], "moved": [True],
         "recovered": [False], "recovery_sessions": [pd.NA], "ratio_20": [0.67],
         "half_life_sessions": [pd.NA]}
    )  # fmt: skip
    table = recovery_table(recovery)
    cells = dict(zip(table.shown_columns(), table.formatted().iloc[0], strict=True))
    assert (cells["name"], cells["reaction_return"], cells["max_drawdown"]) == (
        "NVIDIA Corporation", "+18.72 %", "+66.16 %")
    assert cells["ratio_20"] == "0.67"
    # a relief not given back, no reason known: the status says so, not blank
    assert cells["status"] == "not given back"


def test_recovery_status_words():
    from backtest.recovery.status import recovery_status

    base = {"measurable": True, "moved": True, "recovered": False, "relapsed": pd.NA,
            "recovery_sessions": pd.NA}
    base["censored_by"] = "horizon"
    assert recovery_status(pd.Series(base)) == "not recovered (horizon)"
    back = {**base, "recovered": True, "recovery_sessions": 3}
    assert recovery_status(pd.Series({**back, "relapsed": False})) == "recovered"
    assert recovery_status(pd.Series({**back, "relapsed": True})) == "recovered, fell again"
    assert recovery_status(pd.Series({**base, "moved": False})) == "no move"
    assert recovery_status(pd.Series({**base, "measurable": False, "moved": pd.NA})) == "not measurable"


def _edge_columns() -> pd.DataFrame:
    """Every kind of column the writers have a column-wise path for, with their edge values."""
    floats = [0.1 + 0.2, math.nan, -math.inf, math.inf, -0.0, 1e-05, 1e16, 1.5e22, 5e-324, 123456789.0]
    n = len(floats)
    return pd.DataFrame({
        "f64": floats,
        "f32": np.array(floats, dtype="float32"),
        "nullable": pd.array([0.25, None] * (n // 2), dtype="Float64"),
        "i64": np.arange(n, dtype="int64") - 5,
        "u8": np.arange(n, dtype="uint8"),
        "flag": [True, False] * (n // 2),
        "maybe": pd.array([True, None] * (n // 2), dtype="boolean"),
        "count": pd.array([1, None] * (n // 2), dtype="Int64"),
        "text": pd.array(["=SUM(A1)", "-0.05", "+1", "@x", "ü, \"q\"", None, "\tT", "a\nb", "", "NVDA"],
                         dtype="str"),
        "words": ["=a", ("A", "B"), None, 1.5, "x", "-y", ["c"], "", "d", "e"],
        "day": pd.to_datetime(["2025-01-27", None, "2026-07-02"] + ["2025-04-03"] * (n - 3)),
        "stamp": pd.to_datetime(["2025-01-27 09:30:00.250", None] + ["2025-04-03 16:00:00.000"] * (n - 2)),
        "utc": pd.to_datetime(["2025-01-26 23:00"] * n).tz_localize("UTC"),
    })


@pytest.mark.parametrize("json_chunk", [65_536, 3])
def test_column_wise_writers_give_the_bytes_of_the_cell_by_cell_ones(json_chunk, monkeypatch) -> None:
    # The writers format a column at a time (a table of a million rows took minutes cell by
    # cell); the reference is the cell-by-cell path: json.dumps of each encode_table row, and
    # pandas' own float_format on the neutralized frame.
    monkeypatch.setattr(results_file, "ROWS_PER_CHUNK", json_chunk)  # 3: rows written in 4 chunks
    frame = _edge_columns()
    tables = {"edge": frame, "empty": frame.iloc[:0], "no_columns": pd.DataFrame(index=range(3))}
    reference = {
        "format": results_file.FORMAT_NAME, "format_version": results_file.FORMAT_VERSION, "settings": {},
        "provenance": {}, "warnings": [],
        "tables": {name: results_file.encode_table(t) for name, t in tables.items()},
    }
    assert dumps_results(tables, {}) == results_file._dump(reference) + "\n"
    row = json.loads(dumps_results({"edge": frame}, {}))["tables"]["edge"]["rows"][0]
    assert row[:2] == [0.30000000000000004, 0.30000001192092896]  # repr of the double, and of the float32
    cells = frame.copy()
    for column in ("text", "words"):  # what the CSV writer did cell by cell before
        joined = [" ".join(map(str, v)) if isinstance(v, tuple | list) else v for v in cells[column].tolist()]
        cells[column] = [export.neutralize_formula(v) for v in joined]
    expected = cells.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    assert to_csv(frame) == expected
    assert to_csv(frame).splitlines()[1].startswith("0.3,0.3000000119,0.25,-5,0,True,True,1,'=SUM(A1),'=a,")
    # the CSV's float text stays out of the Parquet file: numbers stay numbers there
    import io

    back = pd.read_parquet(io.BytesIO(export.to_parquet(frame)))
    assert back["f64"].dtype == np.float64 and back["f32"].dtype == np.float32
    np.testing.assert_array_equal(back["f64"].to_numpy(), frame["f64"].to_numpy())


def test_csv_in_chunks_writes_dates_as_pandas_does_in_its_own_chunks(monkeypatch) -> None:
    # pandas writes a chunk of dates without their time of day when none in that chunk has one;
    # to_csv cuts the table in whole chunks of pandas' own, so the bytes are pandas' bytes.
    from pandas.io.formats import csvs

    monkeypatch.setattr(csvs, "_DEFAULT_CHUNKSIZE_CELLS", 40)  # 20 rows of 2 columns; to_csv: 320
    days = pd.date_range("2020-01-01", periods=3000, freq="D")
    stamps = days + pd.to_timedelta(np.where(np.arange(3000) < 1500, 0, 3600), unit="s")
    frame = pd.DataFrame({"date": stamps, "x": np.linspace(-1.0, 1.0, 3000)})
    expected = frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    assert to_csv(frame) == expected
    lines = expected.splitlines()
    assert lines[1].startswith("2020-01-01,") and lines[-1].startswith("2028-03-18 01:00:00,")  # both forms


def test_a_tables_files_are_made_a_piece_at_a_time_as_they_are_written(tmp_path, monkeypatch) -> None:
    # Every file of a set was made whole before the first was written: a 400,000-pair study's
    # CSV, Parquet and JSON would have needed about 17 GB beside its tables. Now each CSV and
    # results.json is written a chunk of rows at a time as the chunk is made, and a table's
    # Parquet when the writer comes to it; the bytes are those of the whole texts.
    from pandas.io.formats import csvs

    from backtest.report.output import open_output

    monkeypatch.setattr(csvs, "_DEFAULT_CHUNKSIZE_CELLS", 12)  # pandas: 4 rows of 3 columns; ours: 64
    monkeypatch.setattr(results_file, "ROWS_PER_CHUNK", 50)
    frame = pd.DataFrame({"car": np.linspace(-0.2, 0.2, 200), "symbol": ["NVDA", "=1+1"] * 100,
                          "note": ["x" * 200] * 200})  # chunks larger than the file's write buffer
    tables = {"car": frame, "fits": frame.iloc[:3]}
    seen: list[tuple[str, int]] = []  # (what was being made, bytes of car.csv / results.json staged by then)

    with open_output(tmp_path / "out") as out:
        staged = out.staging

        def size(name: str) -> int:
            path = staged / name
            return path.stat().st_size if path.exists() else -1

        real_csv, real_rows = export._csv_ready, results_file._column_json
        monkeypatch.setattr(export, "_csv_ready", lambda part: (seen.append(("csv", size("car.csv"))),
                                                                real_csv(part))[1])
        monkeypatch.setattr(results_file, "_column_json", lambda series, kind: (
            seen.append(("json", size("results.json"))), real_rows(series, kind))[1])
        files = export.table_files(tables, {"model": "market"})
        assert seen == []  # nothing is made before it is written
        written = export.write_files(out, files)
    csv_sizes = [n for what, n in seen if what == "csv"]
    json_sizes = [n for what, n in seen if what == "json"]
    # car.csv's 4 chunks (64, 64, 64 and 8 rows), each made once the ones before it were written,
    # then fits.csv's one (car.csv whole by then); results.json's rows likewise
    assert csv_sizes[0] == 0 and csv_sizes == sorted(set(csv_sizes)) and len(csv_sizes) == 5
    assert json_sizes == sorted(json_sizes) and len(set(json_sizes)) >= 4
    assert [p.name for p in written] == ["car.csv", "car.parquet", "fits.csv", "fits.parquet", "results.json"]
    monkeypatch.undo()
    out_dir, settings = tmp_path / "out", {"model": "market"}
    assert (out_dir / "car.csv").read_text(encoding="utf-8") == to_csv(frame)
    assert (out_dir / "results.json").read_text(encoding="utf-8") == dumps_results(tables, settings)
    assert (out_dir / "fits.parquet").read_bytes() == export.to_parquet(frame.iloc[:3])


def test_a_float_column_formats_as_each_of_its_cells_would() -> None:
    from backtest.formatting import format_cell, format_column

    # format_column skips the missing-value test per cell for floats: the same texts, edge values
    # included (signed zero, a percent that rounds to zero, infinities, the smallest subnormal)
    values = [0.0, -0.0, 1e-9, -1e-9, -0.00004, 0.00005, 0.0004, 0.001, 0.0009999, 1.5, -2.345,
              123456.789, float("nan"), float("inf"), -float("inf"), 5e-324, -5e-324, 0.125, 1e20]
    columns = [pd.Series(values), pd.Series(values, dtype="float32"),
               pd.Series([*values, pd.NA], dtype="Float64")]
    for column in columns:
        for kind in ("percent", "signed_percent", "number", "pvalue", "text"):
            cells = [format_cell(value, kind) for value in column.tolist()]
            assert format_column(column, kind) == cells, (column.dtype, kind)
