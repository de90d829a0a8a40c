"""Coalescing planning (pure): trailing delay, max wait, forced plans and rows covering several keys."""

from cachecore.debounce import Item, due_time, plan, rows_to_delete


def timing(delay=2.0, max_wait=10.0):
    return lambda namespace: (delay, max_wait)


def item(row_id, created, *keys, source="signal"):
    return Item(row_id, created, source, tuple(keys) or (("ns", None),))


class TestDueTime:
    def test_trailing_delay_after_the_last_write(self):
        assert due_time(100.0, 101.0, 2.0, 10.0) == 103.0

    def test_max_wait_bounds_a_continuous_stream(self):
        assert due_time(100.0, 109.5, 2.0, 10.0) == 110.0

    def test_negative_values_count_as_zero(self):
        assert due_time(100.0, 100.0, -1.0, 10.0) == 100.0


class TestPlan:
    def test_nothing_due_inside_the_delay(self):
        result = plan([item(1, 100.0)], timing(), now=101.0)
        assert result.keys == {} and result.rows == {}
        assert result.next_due == 102.0

    def test_due_after_the_delay_coalesces_rows_of_one_key(self):
        result = plan([item(1, 100.0), item(2, 100.5), item(3, 101.0)], timing(), now=103.0)
        assert result.keys == {("ns", None): ["signal"]}
        assert set(result.rows) == {1, 2, 3}
        assert result.next_due is None

    def test_a_late_write_postpones_until_max_wait(self):
        rows = [item(i, 100.0 + i) for i in range(10)]  # one write a second
        assert plan(rows, timing(delay=2.0, max_wait=5.0), now=104.9).keys == {}
        assert set(plan(rows, timing(delay=2.0, max_wait=5.0), now=105.0).rows) == set(range(10))

    def test_force_applies_everything(self):
        result = plan([item(1, 100.0), item(2, 100.0, ("other", "user:1"))], timing(), now=100.0, force=True)
        assert set(result.keys) == {("ns", None), ("other", "user:1")}
        assert set(result.rows) == {1, 2}

    def test_per_namespace_timing(self):
        timings = {"fast": (0.0, 0.0), "slow": (5.0, 5.0)}
        result = plan([item(1, 100.0, ("fast", None)), item(2, 100.0, ("slow", None))], timings.__getitem__, 100.0)
        assert set(result.keys) == {("fast", None)}
        assert result.next_due == 105.0

    def test_sources_are_kept_once_each(self):
        rows = [item(1, 100.0, source="signal"), item(2, 100.0, source="bulk"), item(3, 100.0, source="signal")]
        assert plan(rows, timing(), now=200.0).keys == {("ns", None): ["signal", "bulk"]}

    def test_a_table_row_is_applied_whole_when_any_of_its_keys_is_due(self):
        timings = {"a": (0.0, 0.0), "b": (60.0, 60.0)}
        rows = [item(1, 100.0, ("a", None), ("b", None)), item(2, 100.0, ("b", None))]
        result = plan(rows, timings.__getitem__, now=100.0)
        # Row 1 needs "a" now, so "b" is applied early with it, and row 2 (only "b") goes too.
        assert set(result.keys) == {("a", None), ("b", None)}
        assert set(result.rows) == {1, 2}

    def test_a_row_with_no_keys_is_deleted(self):
        # A trigger row for a table nobody watches any more.
        result = plan([Item(7, 100.0, "trigger:update", ())], timing(), now=100.0)
        assert result.rows == {7: ()} and result.keys == {}


class TestRowsToDelete:
    def test_rows_of_failed_keys_stay(self):
        rows = {1: (("a", None),), 2: (("b", None),), 3: (("a", None), ("b", None))}
        assert rows_to_delete(rows, {("b", None)}) == [1]
        assert rows_to_delete(rows, set()) == [1, 2, 3]
