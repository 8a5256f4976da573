"""The event-study result object and its plain-text summary.

Numbers inside are fractions (``car = -0.1333``); percent appears only in the
formatted summary (``-13.33 %``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backtest.formatting import format_marked, format_number, format_percent, format_pvalue


@dataclass(frozen=True)
class EventStudyResult:
    """Abnormal returns, CARs and significance tests of an event study.

    Attributes
    ----------
    abnormal_returns : DataFrame
        Tidy, one row per event x symbol x relative day: event_id, symbol,
        benchmark, rel_day, date, return, benchmark_return, normal_return, ar,
        ar_se, car (running sum of the ARs from the event-window start; NaN from the
        first missing day on, never a sum that skips a day), missing (bool).
    car : DataFrame
        One row per event x symbol x CAR window: event_id, symbol, window
        (``"[0,+5]"``), start, end, car, car_se, t_stat, df, p_value, bhar,
        n_days, n_missing, complete, model_used, n_estimation. A gap inside the data
        (a halt) is left out of the sum and counted in ``n_missing``; a window that runs
        past the pair's data, or whose day 0 has no AR, has ``complete = False`` and NaN
        car, car_se, t_stat, p_value and bhar (``n_missing`` still counts the days).
    tests : DataFrame
        Cross-sectional tests: scope (an event_id or ``"all"``), window, test,
        statistic, p_value, null (``"t(df)"``, ``"N(0,1)"``, ``"Binomial(N, p̂)"``,
        ``"exact Wilcoxon(N)"``; the family, e.g. ``"t(N-1)"``, when N is below the
        test's minimum), df, n, caar (mean CAR of the scope), rbar (Kolari-Pynnönen
        ``r̄`` on the ``bmp_kp`` rows, NaN elsewhere), note (why a statistic is NaN or
        its p-value approximate), p_holm and p_bh (Holm and Benjamini-Hochberg adjusted
        p-values over the tests of the same scope and window: :mod:`backtest.study.multiple`).
    fits : DataFrame
        One row per event x symbol: event_id, symbol, benchmark, model_requested,
        model_used, n_estimation, df, alpha, beta, sigma2, warning (+ ``beta_<factor>``
        columns for the factor model).
    aar : DataFrame
        Average abnormal returns by scope and relative day: scope, rel_day, aar, caar, n
        (``aar`` averages the pairs with an AR that day; ``caar`` is NaN from the first
        day without any AR on).
    settings : dict
        The parameters the study ran with.
    robustness : DataFrame or None
        The CARs under each normal-return model (``event_study(..., robustness=True)``):
        event_id, symbol, window, model, model_used, car, t_stat, p_value, drift,
        model_dependent (:mod:`backtest.study.robustness`).

    The trap diagnostics (:mod:`backtest.study.diagnostics`) are columns of ``car``
    (drift, drift_share, car_drift_free, drift_dominates, bhar_drift, benchmark_car,
    benchmark_z, benchmark_moved, overlap_events, n_gap) and ``fits`` (n_excluded,
    excluded_events, n_gap_estimation, benchmark_day0_return, benchmark_day0_z,
    overlap_events); :meth:`trap_notes` says them in one line each.
    """

    abnormal_returns: pd.DataFrame
    car: pd.DataFrame
    tests: pd.DataFrame
    fits: pd.DataFrame
    aar: pd.DataFrame
    settings: dict = field(default_factory=dict)
    robustness: pd.DataFrame | None = None

    def trap_notes(self) -> list[str]:
        """One line per trap the result flags (drift, benchmark moved, overlap, data gaps)."""
        from backtest.study.traps import trap_notes

        return trap_notes(self)

    def car_table(self) -> pd.DataFrame:
        """CARs for display: percent strings with significance marks (one row per pair x window)."""
        c = self.car
        return pd.DataFrame({
            "event_id": c["event_id"],
            "symbol": c["symbol"],
            "window": c["window"],
            "CAR": [format_marked(v, p, "signed_percent") for v, p in zip(c["car"], c["p_value"],
                                                                          strict=True)],
            "t": [format_number(v) for v in c["t_stat"]],
            "p": [format_pvalue(v) for v in c["p_value"]],
            "BHAR": [format_percent(v, signed=True) for v in c["bhar"]],
            "model": c["model_used"],
            "n_est": c["n_estimation"],
            **({"drift": [format_percent(v, signed=True) for v in c["drift"]]} if "drift" in c else {}),
        })

    def test_table(self) -> pd.DataFrame:
        """Cross-sectional tests for display: statistic with marks, p-value and null."""
        t = self.tests
        return pd.DataFrame({
            "scope": t["scope"],
            "window": t["window"],
            "test": t["test"],
            "statistic": [format_marked(v, p) for v, p in zip(t["statistic"], t["p_value"], strict=True)],
            "p": [format_pvalue(v) for v in t["p_value"]],
            "null": t["null"],
            "n": t["n"],
            "CAAR": [format_percent(v, signed=True) for v in t["caar"]],
        })

    def __repr__(self) -> str:
        from backtest.display import short_repr

        s = self.settings
        return short_repr(
            "EventStudyResult", model=s.get("model"), events=self.car["event_id"].nunique(),
            pairs=len(self.fits), windows=self.car["window"].nunique(), tests=len(self.tests),
        )  # fmt: skip

    def summary(self):  # -> backtest.display.Summary
        """Settings, model fits, the reaction table (day-0 AR, CARs with marks) and the tests.

        Prints as text (``print(res.summary())``), renders as HTML in a notebook.
        Marks: ``*`` p < 0.10, ``**`` p < 0.05, ``***`` p < 0.01 (two-sided).
        """
        from backtest.display import Summary
        from backtest.report.tables import generic_table, reaction_table, tests_table

        s = self.settings
        betas = [c for c in self.fits.columns if c.startswith("beta")]
        columns = ["event_id", "symbol", "benchmark", "model_used", "n_estimation", "alpha", *betas]
        fits = generic_table("fits", "Model fits", self.fits, columns)
        tables = [reaction_table(self.abnormal_returns, self.car), tests_table(self.tests), fits]
        if self.robustness is not None:
            from backtest.study.robustness import robustness_table

            title = "CARs under each normal-return model (does the conclusion depend on it?)"
            tables.append(generic_table("robustness", title, robustness_table(self.robustness)))
        notes = [w for w in self.fits["warning"] if isinstance(w, str) and w] + self.trap_notes()
        return Summary(
            "Event study",
            tables,
            list(dict.fromkeys(notes)),
            lead=f"Model {s.get('model')}, estimation window {s.get('estimation_window')}, event window "
            f"{s.get('event_window')}, {s.get('return_kind', 'simple')} returns.",
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def plot(self, kind: str = "car", names: dict[str, str] | None = None):  # -> matplotlib Figure
        """The report's CAR chart (``kind="car"``) as a matplotlib figure, not shown.

        ``names``: event_id -> title of its panel (default: the ids).
        """
        from backtest.report.charts import car_figure

        if kind != "car":
            from backtest.errors import ParameterError

            raise ParameterError(f"plot kind {kind!r}: an event study draws 'car'")
        ids = list(dict.fromkeys(self.abnormal_returns["event_id"].astype(str)))
        return car_figure(self.abnormal_returns, names or {e: e for e in ids})
