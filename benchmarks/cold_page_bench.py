"""Cold tracker page (100 trackers) against the 1 + N loop, optionally against another commit's selectors.

Reproduce (PostgreSQL + Redis; uses make bench's ``<name>_bench`` database, seeded on first use):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cw_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/cold_page_bench.py [--against main]

The same requests as make bench's "cold tracker page (100)" and "1 + N loop over the same 100
trackers" (Django's test client, a real session, the cache invalidated before each cold request),
interleaved round by round; medians. With ``--against REF`` the trackers selectors of git ``REF``
are loaded beside the current ones and the cold page is measured with both, in the same rounds,
so a before/after pair shares the machine's load. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.argv, _argv = sys.argv[:1], sys.argv[1:]  # make_bench reads no arguments of ours

import make_bench as mb  # noqa: E402  (sets up Django on the benchmark database)
from django.conf import settings  # noqa: E402

from trackers import selectors  # noqa: E402


def selectors_of(ref: str):
    """Return the trackers.selectors module of git ``ref``, loaded beside the current one."""
    source = subprocess.run(
        ["git", "show", f"{ref}:trackers/selectors.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    name = "selectors_" + "".join(c if c.isalnum() else "_" for c in ref)
    module = types.ModuleType(name)
    exec(compile(source, f"{ref}:trackers/selectors.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="a git ref whose trackers selectors to measure beside the current ones")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=5)
    args = parser.parse_args(_argv)
    mb.ensure_data()
    settings.ROOT_URLCONF = "benchmarks.floor_urls"
    client = mb.logged_in_client()
    current = selectors.tracker_page

    def get():
        response = client.get(mb.PAGE)
        assert response.status_code == 200, response.status_code
        return response

    def with_selectors(tracker_page):
        def run():
            selectors.tracker_page = tracker_page  # the view calls selectors.tracker_page
            try:
                return get()
            finally:
                selectors.tracker_page = current

        return run

    def cold():
        mb.invalidate_now(mb.TRACKER_LIST, source="benchmark")

    body = get().content
    ids = [item["id"] for item in json.loads(body)["items"]]
    variants = {"cold tracker page (100), this tree": (get, cold)}
    if args.against:
        other = selectors_of(args.against)
        variants[f"cold tracker page (100), {args.against}"] = (with_selectors(other.tracker_page), cold)
        assert json.loads(with_selectors(other.tracker_page)().content) == json.loads(get().content)
    variants["1 + N loop over the same 100 trackers"] = (lambda: mb.one_plus_n(ids), None)
    samples = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (fn, prepare) in variants.items():
            fn()
            for _ in range(args.per_round):
                if prepare:
                    prepare()
                started = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - started) * 1000)
    loop = statistics.median(samples["1 + N loop over the same 100 trackers"])
    print("| variant | median ms | 1 + N / it |\n|---|---|---|")
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"| {name} | {median:.3f} | {loop / median:.1f} |")


if __name__ == "__main__":
    main()
