"""Stop sequences split across tokens are caught and never shown in part."""

from caretune.engines.stops import StopMatcher


def _feed(stops: list[str], deltas: list[str]) -> tuple[list[str], bool]:
    matcher = StopMatcher(stops)
    shown = [matcher.push(d) for d in deltas]
    if not matcher.stopped:
        shown.append(matcher.flush())
    return shown, matcher.stopped


def test_stop_split_across_deltas_is_caught_and_not_shown() -> None:
    shown, stopped = _feed(["\nCustomer:"], ["Thanks", "!\nCu", "sto", "mer: more"])
    assert stopped
    assert "".join(shown) == "Thanks!"
    assert all("\n" not in chunk for chunk in shown)


def test_held_back_prefix_is_released_when_it_turns_out_not_to_be_a_stop() -> None:
    shown, stopped = _feed(["\nCustomer:"], ["a\nCu", "be", " c"])
    assert not stopped
    assert shown[0] == "a"
    assert "".join(shown) == "a\nCube c"


def test_earliest_of_several_stops_wins_and_tail_is_flushed_at_the_end() -> None:
    shown, stopped = _feed(["END", "xy"], ["abxEN", "D then xy"])
    assert stopped and "".join(shown) == "abx"
    shown, stopped = _feed(["END"], ["abcE", "N"])
    assert not stopped and "".join(shown) == "abcEN"
