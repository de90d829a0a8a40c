"""benchmarks/make_bench.py takes no options: --help explains it and touches nothing, a wrong option is an error."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return subprocess.run(
        [sys.executable, "benchmarks/make_bench.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_help_explains_the_bench_and_neither_seeds_nor_measures():
    before = (ROOT / "bench.sqlite3").exists()
    result = run("--help")
    assert result.returncode == 0
    assert "make bench" in result.stdout and "DATABASE_URL" in result.stdout
    assert (ROOT / "bench.sqlite3").exists() == before  # no benchmark database was created
    assert "seeding" not in result.stdout


def test_an_unknown_option_is_an_error_naming_it():
    result = run("--rounds", "3")
    assert result.returncode == 2
    assert "unrecognized arguments: --rounds 3" in result.stderr
