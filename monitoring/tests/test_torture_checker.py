"""The torture checker (pure): staleness of each read against the committed history, lost writes."""

import pytest

from monitoring.torture.checker import Read, Write, check, percentile, staleness
from monitoring.torture.faults import KINDS, parse_faults

BOUNDS = {"o": 5.0}
HISTORY = [Write("o", "A", 0.0), Write("o", "B", 10.0), Write("o", "C", 20.0)]


def figures(*reads):
    return check(HISTORY, list(reads), BOUNDS)


class TestStaleness:
    def test_a_read_of_the_latest_state_is_fresh(self):
        assert figures(Read("o", "B", 12.0, 12.1))["stale_reads"] == 0

    def test_staleness_counts_from_the_commit_of_the_next_state(self):
        result = figures(Read("o", "A", 13.0, 13.1))
        assert (result["stale_reads"], result["stale_beyond_bound"], result["max_staleness_s"]) == (1, 0, 3.0)

    def test_beyond_the_bound(self):
        result = figures(Read("o", "A", 26.0, 26.1), Read("o", "B", 26.0, 26.2))
        assert result["stale_beyond_bound"] == 2
        assert result["examples"][0] == {"obj": "o", "staleness_s": 16.0, "bound_s": 5.0, "at": 26.0}

    def test_a_state_committed_during_the_read_is_fresh(self):
        assert figures(Read("o", "B", 9.9, 10.1))["stale_reads"] == 0
        assert figures(Read("o", "A", 9.9, 10.1))["stale_reads"] == 0  # B was not committed when it began

    def test_a_repeated_state_is_charged_from_its_latest_commit(self):
        history = [Write("o", "A", 0.0), Write("o", "B", 10.0), Write("o", "A", 20.0), Write("o", "C", 30.0)]
        assert check(history, [Read("o", "A", 25.0, 25.1)], BOUNDS)["stale_reads"] == 0
        assert check(history, [Read("o", "A", 33.0, 33.1)], BOUNDS)["max_staleness_s"] == 3.0

    def test_a_state_recorded_just_after_the_read_ended_is_accepted(self):
        # The writer notes the time after its commit returned: the read may end in between.
        assert figures(Read("o", "C", 19.95, 19.99))["unmatched_reads"] == 0

    def test_a_state_never_committed_is_unmatched(self):
        assert figures(Read("o", "Z", 5.0, 5.1))["unmatched_reads"] == 1

    def test_staleness_of_an_unknown_state_is_none(self):
        from monitoring.torture.checker import build_histories

        assert staleness(build_histories(HISTORY)["o"], Read("o", "Z", 1.0, 1.1)) is None


class TestLostInvalidations:
    def test_a_final_read_of_an_old_state_is_a_lost_invalidation(self):
        result = figures(Read("o", "B", 40.0, 40.1, final=True), Read("o", "C", 40.0, 40.1, final=True))
        assert (result["lost_invalidations"], result["lost_objects"], result["reads_checked"]) == (1, {"o": 1}, 0)


def test_percentiles_use_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, None)


class TestParseFaults:
    def test_all_none_and_lists(self):
        assert parse_faults("all") == KINDS
        assert parse_faults("none") == ()
        assert parse_faults("stall, restart,stall") == ("stall", "restart")

    @pytest.mark.parametrize("value", ["bogus", "stall,bogus", ","])
    def test_unknown_kinds_name_the_option(self, value):
        with pytest.raises(ValueError, match="--faults"):
            parse_faults(value)
