"""How stale the dashboard's history totals may grow follows what counting them costs."""

from __future__ import annotations

import pytest

from enricher.web.totals import MAX_AGE_S, MIN_AGE_S, Totals


@pytest.mark.parametrize(
    ("duration_s", "background", "max_age_s"),
    [
        (0.01, False, MIN_AGE_S),  # cheap: counted on every request
        (0.06, True, 1.2),  # a small queue on a busy machine: a second behind at most
        (0.3, True, 6.0),  # a million jobs: 5% of a core
        (2.0, True, MAX_AGE_S),  # ten million: never more than MAX_AGE_S behind
    ],
)
def test_the_age_limit_follows_the_cost_of_a_count(
    duration_s: float, background: bool, max_age_s: float
) -> None:
    totals = Totals()
    totals._duration = duration_s
    assert totals.background is background
    assert totals.max_age_s == pytest.approx(max_age_s)
