"""An L2 hit side by side with a bare redis-py GET of the same bytes, and the steps in between.

Reproduce (Redis needed; the stored tracker page of ``make bench``'s size, about 24 KB):

    REDIS_URL=redis://127.0.0.1:6379/13 CACHE_KEY_PREFIX=cwperf13 .venv/bin/python benchmarks/l2_hit_bench.py

Variants, interleaved round by round (50 calls each per round, 40 rounds; median and best
round, microseconds per call):

- bare GET: ``redis.get(key)`` of the value's bytes, the floor;
- raw MGET: redis-py ``mget`` of the keys an L2 hit reads (epoch, namespace generation, value);
- django-redis get_many: the same keys through the Django cache API (prefix, decode);
- read_generations: cachecore's one round trip (generations and the guessed value key);
- get_or_compute L2 hit: the whole call of a namespace without L1.

Writes ``benchmarks/results/l2_hit.md``.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime

import bootstrap

ROOT = bootstrap.setup()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

ROUNDS, CALLS = 40, 50


def main() -> None:
    if not settings.REDIS_URL:
        sys.exit("REDIS_URL is needed (the comparison is against a bare redis-py GET)")
    from django_redis import get_redis_connection

    from cachecore import generations, keys, tiers
    from cachecore.api import Namespace, get_or_compute, register_namespace
    from cachecore.namespaces import get_namespace
    from trackers import stored

    page = {"items": [{"id": i, "serial": f"TRK-{i:06d}", "name": "x" * 200} for i in range(100)]}
    value = stored.store(page)
    name = "bench.l2_hit_side_by_side"
    register_namespace(Namespace(name=name, params=("k",), l1_ttl=0, l2_ttl=600))
    get_or_compute(name, {"k": 1}, lambda: value)
    redis = get_redis_connection("default")
    redis.set("bench:l2_hit:bare", value["body"].encode(), ex=600)
    cache = tiers.l2_cache()
    key_hash = keys.param_hash(keys.canonical_params(get_namespace(name), {"k": 1}))
    gens = generations.current_generations(name)
    names = [keys.EPOCH_KEY, keys.generation_key(name), keys.value_key(name, gens, key_hash)]
    raw = [cache.make_key(k) for k in names]
    variants = {
        "bare GET (the floor)": lambda: redis.get("bench:l2_hit:bare"),
        "raw MGET of the 3 keys": lambda: redis.mget(raw),
        "django-redis get_many of the 3 keys": lambda: cache.get_many(names),
        "read_generations (cachecore's one round trip)": lambda: generations.read_generations(
            name, None, value_hash=key_hash
        ),
        "get_or_compute, L2 hit": lambda: get_or_compute(name, {"k": 1}, lambda: value),
    }
    assert get_or_compute(name, {"k": 1}, lambda: None)[1].tier == "l2"
    samples = {label: [] for label in variants}
    for _ in range(ROUNDS):
        for label, fn in variants.items():
            started = time.perf_counter()
            for _ in range(CALLS):
                fn()
            samples[label].append((time.perf_counter() - started) / CALLS * 1e6)
    floor = statistics.median(samples["bare GET (the floor)"])
    lines = [
        f"# L2 hit against a bare redis-py GET — {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        f"`{' '.join(['.venv/bin/python', 'benchmarks/l2_hit_bench.py'])}` (Redis {settings.REDIS_URL.split('@')[-1]});"
        f" value {len(value['body'])} bytes of JSON text; {ROUNDS} rounds x {CALLS} calls, interleaved."
        " Shared 2-core machine, other sessions running: ratios are the figure, not absolutes.",
        "",
        "| variant | median us/call | best round us/call | median / bare GET |",
        "|---|---|---|---|",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        lines.append(f"| {label} | {median:.1f} | {min(values):.1f} | {median / floor:.2f} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "results" / "l2_hit.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
