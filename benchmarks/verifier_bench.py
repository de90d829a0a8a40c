"""The sampling verifier's cost: an L1 hit with the verifier off, at 1 % and at 100 %, side by side.

Run (the embedded default is enough: the hit path and the worker do not need Redis):

    .venv/bin/python benchmarks/verifier_bench.py

Rows: the engine's hit path without the hook (``TieredCache.get_or_compute``); the public
``get_or_compute`` with the verifier off (the hook's draw-nothing cost); at ``verify_rate`` 0.01
and 1.0 with the background worker running (at 1.0 the bounded queue fills and drops, so the row
is the cost of sampling + enqueue-or-drop); and the worker's own cost per verified hit (recompute
+ two hashes) for the same 20-item value. Every figure is the median over ROUNDS interleaved rounds
(each round times every path once) of the mean cost per call of CALLS calls; the table is printed and written to
benchmarks/results/verifier.md with the command.
"""

import argparse
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

import bootstrap
from timing import median_per_call

ROOT = bootstrap.setup(
    CACHE_KEY_PREFIX="bench",
    PROMETHEUS_MIDDLEWARE="0",
)

import django  # noqa: E402

django.setup()

from cachecore import service  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from cachecore.verifier import _Job, verifier  # noqa: E402

VALUE = {"items": [{"id": i, "name": f"brand {i}", "client_id": i % 7} for i in range(20)], "total": 20}
PARAMS = {"user_id": 7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "verifier.md"))
    args = parser.parse_args()

    compute = VALUE.copy
    rates = {"off": 0.0, "1 %": 0.01, "100 %": 1.0}
    for rate in rates.values():
        name = f"bench.verify{int(rate * 100)}"
        register_namespace(Namespace(name, params=("user_id",), l1_ttl=None, l2_ttl=300, verify_rate=rate))
        service.get_or_compute(name, PARAMS, compute)
        assert service.get_or_compute(name, PARAMS, compute)[1].tier == "l1"

    def hit(name, fn):
        return lambda: fn(name, PARAMS, compute)

    paths = [("L1 hit, engine only (no hook)", hit("bench.verify0", service.cache.get_or_compute))]
    for label, rate in rates.items():
        paths.append((f"L1 hit, verifier {label}", hit(f"bench.verify{int(rate * 100)}", service.get_or_compute)))
    # Interleaved: every round times each path once, so machine noise hits all paths alike.
    samples = {label: [] for label, _ in paths}
    for _ in range(args.rounds):
        for label, fn in paths:
            samples[label].append(median_per_call(fn, calls=args.calls, rounds=1))
    rows = [(label, statistics.median(values)) for label, values in samples.items()]
    job = _Job("bench.verify100", PARAMS, VALUE, compute)
    rows.append(
        (
            "worker: verify one hit (recompute + hashes)",
            median_per_call(lambda: verifier.verify(job), calls=200, rounds=7),
        )
    )
    report = verifier.report([])
    base = rows[0][1]
    lines = [
        "# The sampling verifier's cost",
        "",
        f"Command: `.venv/bin/python benchmarks/verifier_bench.py --calls {args.calls} --rounds {args.rounds}`",
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, {platform.machine()},"
        f" 2 cores shared with other work; verifier queue capacity {report['queue']['capacity']})",
        "",
        "| Path | µs per call | vs engine only |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {cost * 1e6:.2f} | ×{cost / base:.2f} |" for label, cost in rows]
    print("\n".join(lines))
    Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
