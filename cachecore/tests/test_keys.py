"""Key canonicalisation and generations."""

import datetime as dt
import decimal
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachecore import generations, keys, tiers
from cachecore.namespaces import Namespace

# Generation is slow on a shared machine; the autouse cache-reset fixture is harmless per example.
relaxed = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

NS = Namespace("keys.test", params=("user_id", "strategy_id", "ids", "search", "when", "flag"), unordered=("ids",))


def key_of(**params):
    return keys.param_hash(keys.canonical_params(NS, params))


class TestCanonicalParams:
    def test_absent_and_none_are_the_same(self):
        assert key_of(user_id=1) == key_of(user_id=1, strategy_id=None)

    def test_numeric_strings_equal_ints(self):
        assert key_of(user_id="7", strategy_id=3) == key_of(user_id=7, strategy_id="3")

    def test_integers_beyond_64_bits_still_hash(self):
        # The fast encoder refuses them; the fallback must give a stable, distinct key.
        assert key_of(user_id=2**70) == key_of(user_id=2**70)
        assert key_of(user_id=2**70) != key_of(user_id=2**70 + 1)

    def test_non_finite_floats_do_not_hash_like_none(self):
        assert key_of(search=float("nan")) != key_of(search=None)
        assert key_of(search=float("inf")) != key_of(search=float("-inf"))

    def test_hash_is_sha256_of_the_canonical_json(self):
        import hashlib

        canon = keys.canonical_params(NS, {"user_id": 1, "ids": [3, 1], "search": "ü"})
        text = keys.canonical_json(canon)
        assert text == '{"flag":null,"ids":[1,3],"search":"ü","strategy_id":null,"user_id":1,"when":null}'
        assert keys.param_hash(canon) == hashlib.sha256(text.encode()).hexdigest()

    def test_zero_padded_strings_stay_strings(self):
        assert key_of(search="007") != key_of(search="7")

    def test_bool_strings_equal_bools_but_not_ints(self):
        assert key_of(flag="true") == key_of(flag=True)
        assert key_of(flag=True) != key_of(flag=1)

    def test_integral_floats_and_decimals_equal_ints(self):
        assert key_of(user_id=2.0) == key_of(user_id=2) == key_of(user_id=decimal.Decimal("2"))

    def test_dates_and_aware_datetimes_normalise(self):
        assert key_of(when=dt.date(2024, 1, 2)) == key_of(when="2024-01-02")
        utc = dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)
        plus2 = dt.datetime(2024, 1, 2, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        assert key_of(when=utc) == key_of(when=plus2)

    def test_uuid_equals_its_string(self):
        u = uuid.uuid4()
        assert key_of(search=u) == key_of(search=str(u))

    def test_unordered_lists_are_sorted_and_deduplicated(self):
        assert key_of(ids=[3, 1, 2]) == key_of(ids=("1", 2, 3, 3)) == key_of(ids={2, 3, 1})

    def test_unordered_empty_list_differs_from_absent(self):
        assert key_of(ids=[]) != key_of()

    def test_unordered_scalar_is_an_error(self):
        with pytest.raises(TypeError, match="ids"):
            key_of(ids=3)

    def test_unknown_parameter_is_a_programming_error_naming_it(self):
        with pytest.raises(TypeError, match="colour"):
            key_of(user_id=1, colour="red")

    def test_unsupported_type_names_the_parameter(self):
        with pytest.raises(TypeError, match="search"):
            key_of(search=object())

    def test_different_users_different_keys(self):
        assert key_of(user_id=1) != key_of(user_id=2)

    @relaxed
    @given(
        st.dictionaries(
            st.sampled_from(["user_id", "strategy_id", "search"]),
            st.one_of(st.none(), st.integers(-(10**12), 10**12), st.text(max_size=8)),
        ),
        st.lists(st.integers(0, 50), max_size=8),
        st.randoms(),
    )
    def test_any_order_same_key(self, params, ids, rnd):
        items = list({**params, "ids": ids}.items())
        rnd.shuffle(items)
        shuffled_ids = list(ids)
        rnd.shuffle(shuffled_ids)
        assert key_of(**dict(items)) == key_of(**{**params, "ids": shuffled_ids + ids[:1]})

    @relaxed
    @given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
    def test_distinct_users_never_collide(self, a, b):
        assert (key_of(user_id=a) == key_of(user_id=b)) == (a == b)

    @relaxed
    @given(st.integers(-(10**12), 10**12))
    def test_int_and_its_string_collide(self, a):
        assert key_of(user_id=a) == key_of(user_id=str(a))


@pytest.mark.django_db  # "gen.a" is unknown here, so a bump also replaces its durable generation
class TestGenerations:
    def test_created_on_first_read_and_stable(self):
        first = generations.current_generations("gen.a", "user:1")
        assert first == generations.current_generations("gen.a", "user:1")
        assert first.scope and first.namespace and first.epoch

    def test_namespace_bump_changes_only_that_namespace(self):
        a, b = generations.current_generations("gen.a"), generations.current_generations("gen.b")
        token = generations.bump_generation("gen.a")
        assert generations.current_generations("gen.a").namespace == token != a.namespace
        assert generations.current_generations("gen.b") == b

    def test_scope_bump_changes_only_that_scope(self):
        one, two = (
            generations.current_generations("gen.a", "user:1"),
            generations.current_generations("gen.a", "user:2"),
        )
        generations.bump_generation("gen.a", "user:1")
        assert generations.current_generations("gen.a", "user:1").scope != one.scope
        assert generations.current_generations("gen.a", "user:2") == two

    def test_value_key_contains_namespace_generations_and_hash(self):
        gens = generations.current_generations("gen.a", "user:1")
        key = keys.value_key("gen.a", gens, "f" * 64)
        assert key == f"cc1:gen.a:{gens.epoch}.{gens.namespace}.{gens.scope}:{'f' * 64}"

    def test_a_refused_write_deletes_the_old_generation_instead(self, monkeypatch):
        # Redis full with noeviction refuses SET but still serves DEL: readers then start afresh.
        old = generations.current_generations("gen.a")

        def refused(*args, **kwargs):
            raise ConnectionError("OOM command not allowed when used memory > 'maxmemory'")

        monkeypatch.setattr(tiers.l2_cache(), "set", refused)
        assert generations.bump_generation("gen.a") == ""
        monkeypatch.undo()
        assert generations.current_generations("gen.a").namespace != old.namespace

    def test_bump_with_l2_down_raises_and_forces_breaker_open(self, monkeypatch):
        def down(*args, **kwargs):
            raise ConnectionError("down")

        monkeypatch.setattr(tiers.l2_cache(), "set", down)
        monkeypatch.setattr(tiers.l2_cache(), "delete", down)
        with pytest.raises(generations.BumpFailed):
            generations.bump_generation("gen.a")
        assert tiers.l2_breaker.state == "open"

    def test_generations_unknown_when_l2_down(self, monkeypatch):
        def down(*args, **kwargs):
            raise ConnectionError("down")

        monkeypatch.setattr(tiers.l2_cache(), "get_many", down)
        monkeypatch.setattr(tiers, "_redis_get_many", down)  # the Redis lane of get_many
        assert generations.current_generations("gen.a") is None

    def test_get_many_reads_back_what_the_cache_stored(self):
        # On Redis, get_many's fast lane decodes django-redis's format itself: the same values.
        cache = tiers.l2_cache()
        stored = {"t:int": 7, "t:bool": True, "t:str": "token", "t:env": (1.5, None, {"body": "x" * 5000}), "t:neg": -3}
        for key, value in stored.items():
            tiers.l2_set(key, value, 60)
        wanted = [*stored, "t:absent"]
        assert tiers.l2_get_many(wanted) == cache.get_many(wanted) == stored
