"""Event studies: abnormal returns, CARs and significance tests.

``event_study`` works from prices and an event alignment; ``study_returns``
from your own returns panel. Both return an :class:`EventStudyResult`.
"""

from __future__ import annotations

from backtest.study.byor import study_returns
from backtest.study.engine import DEFAULT_CAR_WINDOWS, event_study
from backtest.study.models import MODELS, Model
from backtest.study.result import EventStudyResult
from backtest.study.statistics import TESTS

__all__ = ["DEFAULT_CAR_WINDOWS", "MODELS", "TESTS", "EventStudyResult", "Model", "event_study",
           "study_returns"]
