"""The retry backoff: doubling from the base, jitter between half and the whole delay, a cap."""

from __future__ import annotations

import pytest

from agent_tui.core.store.runs import backoff_delay

SAMPLES = 400


def draws(attempt: int, base: float = 1.0, factor: float = 2.0, cap: float = 300.0) -> list[float]:
    return [backoff_delay(attempt, base, factor, cap) for _ in range(SAMPLES)]


@pytest.mark.parametrize(("attempt", "nominal"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)])
def test_the_delay_doubles_and_jitters_between_half_and_all_of_it(
    attempt: int, nominal: float
) -> None:
    values = draws(attempt)
    assert all(nominal / 2 <= v <= nominal for v in values)
    # Jitter spreads over the whole band: some draws in each half of it (all in one half
    # has a probability of 2 * 2**-400), and no two runs of a step wait the same time.
    assert min(values) < nominal * 0.75 < max(values)
    assert len(set(values)) > SAMPLES // 2


def test_the_cap_bounds_every_delay() -> None:
    values = draws(30, base=1.0, factor=2.0, cap=10.0)
    assert all(5.0 <= v <= 10.0 for v in values)
    assert min(values) < 7.5 < max(values)


def test_the_factor_and_base_are_used() -> None:
    assert all(1.5 <= v <= 3.0 for v in draws(1, base=3.0, factor=5.0))
    assert all(37.5 <= v <= 75.0 for v in draws(3, base=3.0, factor=5.0))


def test_attempt_zero_waits_the_base() -> None:
    assert all(0.5 <= v <= 1.0 for v in draws(0))
