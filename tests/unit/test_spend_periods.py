"""Spend caps' periods and scopes: UTC days and months, year ends included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from enricher.config import BudgetSettings, SpendCap
from enricher.throttle.spend import caps_of, period_bounds, spend_scopes


def test_a_period_is_the_utc_day_or_month_it_falls_in() -> None:
    late = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert period_bounds(late, "day") == (
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert period_bounds(late, "month") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    february = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert period_bounds(february, "month")[1] == datetime(2028, 3, 1, tzinfo=UTC)
    # 01:00 in UTC+2 is still the previous UTC day.
    local = datetime(2026, 6, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert period_bounds(local, "day")[0] == datetime(2026, 5, 31, tzinfo=UTC)


def test_each_pool_is_stopped_by_its_providers_caps_and_the_total() -> None:
    budget = BudgetSettings(daily_usd=20, providers={"openai": SpendCap(monthly_usd=100)})
    assert [(c.scope, c.period, c.limit_usd) for c in caps_of(budget)] == [
        ("spend:total", "day", 20.0),
        ("spend:openai", "month", 100.0),
    ]
    assert spend_scopes(budget, "openai") == ("spend:openai", "spend:total")
    assert spend_scopes(budget, "anthropic") == ("spend:total",)
    assert spend_scopes(budget, "local") == ()  # free: never capped
    assert caps_of(BudgetSettings()) == []
