from __future__ import annotations

import pytest

from qrlink_desktop.scan.rates import DurationMeter, RateMeter


def test_rate_counts_intervals_in_the_window() -> None:
    meter = RateMeter(window_seconds=2.0)
    assert meter.rate(0.0) == 0.0
    for i in range(31):
        meter.tick(i / 30)
    assert meter.rate(1.0) == pytest.approx(30.0)


def test_rate_forgets_old_events() -> None:
    meter = RateMeter(window_seconds=1.0)
    meter.tick(0.0)
    meter.tick(0.1)
    assert meter.rate(0.5) == pytest.approx(10.0)
    assert meter.rate(1.05) == 0.0  # only one event left in the window
    meter.tick(2.0)
    meter.tick(2.0)
    assert meter.rate(2.0) == 0.0  # no time between them: no rate to speak of
    meter.reset()
    assert meter.rate(2.0) == 0.0


def test_durations_median_and_max_in_milliseconds() -> None:
    meter = DurationMeter(size=3)
    assert (meter.median_ms, meter.max_ms) == (0.0, 0.0)
    for seconds in (0.050, 0.001, 0.002, 0.003):  # the first falls out
        meter.add(seconds)
    assert meter.median_ms == pytest.approx(2.0)
    assert meter.max_ms == pytest.approx(3.0)
    meter.reset()
    assert meter.median_ms == 0.0


@pytest.mark.parametrize("make", [lambda: RateMeter(0), lambda: DurationMeter(0)])
def test_meters_refuse_empty_windows(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
