from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrlink_desktop.core.resources import load_json
from qrlink_desktop.scan.confirm import (
    DEFAULT_NEEDED,
    DEFAULT_WINDOW_FRAMES,
    DEFAULT_WINDOW_SECONDS,
    Confirmer,
)

FRAME = 1 / 30


def run(
    confirmer: Confirmer, frames: list[list[str]], step: float = FRAME
) -> list[tuple[int, str]]:
    """Feed frames one per `step` seconds; record (frame number, accepted text)."""
    out: list[tuple[int, str]] = []
    for i, texts in enumerate(frames):
        out += [(i, text) for text in confirmer.observe(texts, i * step)]
    return out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"needed": 0}, "at least one"),
        ({"needed": 5, "window_frames": 4}, "never hold"),
        ({"window_seconds": 0.0}, "positive"),
    ],
)
def test_refuses_impossible_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Confirmer(**kwargs)  # type: ignore[arg-type]


def test_one_sighting_is_not_enough() -> None:
    assert run(Confirmer(), [["A"], [], [], []]) == []


def test_two_sightings_in_a_row_confirm_on_the_second() -> None:
    assert run(Confirmer(), [[], ["A"], ["A"]]) == [(2, "A")]


def test_accepted_text_is_emitted_once() -> None:
    c = Confirmer()
    assert run(c, [["A"]] * 10) == [(1, "A")]
    assert c.accepted == frozenset({"A"})


def test_sightings_anywhere_in_the_frame_window_count() -> None:
    # 2 of 4: frames 0 and 3 are both in the window of the last four.
    assert run(Confirmer(), [["A"], [], [], ["A"]]) == [(3, "A")]


def test_sightings_further_apart_than_the_frame_window_do_not() -> None:
    # Frames with no code push the first sighting out of the window.
    assert run(Confirmer(), [["A"], [], [], [], ["A"], [], [], [], ["A"]]) == []


def test_sightings_further_apart_than_the_time_window_do_not() -> None:
    # Consecutive frames but a slow camera: 0.6 s apart, window 1 s, needed 3.
    c = Confirmer(needed=3, window_frames=4, window_seconds=1.0)
    assert run(c, [["A"], ["A"], ["A"]], step=0.6) == []


def test_time_window_includes_its_edge() -> None:
    c = Confirmer(window_seconds=1.0)
    assert c.observe(["A"], 0.0) == []
    assert c.observe(["A"], 1.0) == ["A"]


def test_time_window_excludes_just_past_its_edge() -> None:
    c = Confirmer(window_seconds=1.0)
    assert c.observe(["A"], 0.0) == []
    assert c.observe(["A"], 1.001) == []


def test_one_needed_accepts_at_once() -> None:
    assert run(Confirmer(needed=1, window_frames=1), [[], ["A"], ["A"]]) == [(1, "A")]


def test_repeats_within_one_frame_count_once() -> None:
    assert run(Confirmer(), [["A", "A"], []]) == []


def test_several_codes_in_one_frame_keep_their_order() -> None:
    assert run(Confirmer(), [["B", "A"], ["B", "A"], ["C"], ["C"]]) == [
        (1, "B"),
        (1, "A"),
        (3, "C"),
    ]


def test_a_misread_among_good_reads_is_not_accepted() -> None:
    assert run(Confirmer(), [["A"], ["X"], ["A"], ["A"]]) == [(2, "A")]


def test_accepts_any_iterable_of_texts() -> None:
    c = Confirmer()
    c.observe((t for t in ["A"]), 0.0)
    assert c.observe(iter(["A"]), 0.1) == ["A"]


def test_clock_going_back_starts_counting_afresh() -> None:
    c = Confirmer()
    assert c.observe(["A"], 10.0) == []
    # Back in time: the sighting at 10.0 is forgotten, so this one alone is not enough.
    assert c.observe(["A"], 5.0) == []
    assert c.observe(["A"], 5.1) == ["A"]


def test_reset_forgets_sightings_and_acceptances() -> None:
    c = Confirmer()
    assert run(c, [["A"], ["A"]]) == [(1, "A")]
    c.observe(["B"], 1.0)
    c.reset()
    assert c.accepted == frozenset()
    assert c.observe(["B"], 1.1) == []  # B's earlier sighting is gone
    assert c.observe(["A"], 1.2) == []
    assert c.observe(["A"], 1.3) == ["A"]  # the same code is new again


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.lists(st.sampled_from("ABC"), max_size=3),
            st.floats(min_value=0.0, max_value=0.5),
        ),
        max_size=30,
    ),
    needed=st.integers(1, 3),
    extra=st.integers(0, 3),
)
def test_matches_a_direct_reading_of_the_rule(
    frames: list[tuple[list[str], float]], needed: int, extra: int
) -> None:
    """Accepted exactly when K of the last N frames (within the time window) hold it."""
    window_frames, window_seconds = needed + extra, 0.8
    c = Confirmer(needed, window_frames, window_seconds)
    history: deque[tuple[float, set[str]]] = deque()
    accepted: set[str] = set()
    now = 0.0
    for texts, step in frames:
        now += step
        got = c.observe(texts, now)
        history.append((now, set(texts)))
        recent = [(t, s) for t, s in list(history)[-window_frames:] if t >= now - window_seconds]
        expected = []
        for text in dict.fromkeys(texts):
            if text not in accepted and sum(text in s for _, s in recent) >= needed:
                expected.append(text)
                accepted.add(text)
        assert got == expected


def _shared_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = load_json("protocol/scan-confirmation.json")["cases"]
    return cases


def test_the_shared_defaults_are_the_scanners() -> None:
    defaults = load_json("protocol/scan-confirmation.json")["defaults"]
    c = Confirmer()
    assert (c.needed, c.window_frames, c.window_seconds) == (
        defaults["needed"],
        defaults["windowFrames"],
        defaults["windowSeconds"],
    )


@pytest.mark.parametrize("case", _shared_cases(), ids=lambda c: c["name"])
def test_the_cases_shared_with_the_page(case: dict[str, Any]) -> None:
    # The page's scanner (resources/mobile/src/confirm.ts) replays the same file.
    c = Confirmer(
        case.get("needed", DEFAULT_NEEDED),
        case.get("windowFrames", DEFAULT_WINDOW_FRAMES),
        case.get("windowSeconds", DEFAULT_WINDOW_SECONDS),
    )
    for i, frame in enumerate(case["frames"]):
        if frame == ["reset"]:
            c.reset()
            assert c.accepted == frozenset()
            continue
        now, texts, confirms = frame
        assert c.observe(texts, now) == confirms, i
