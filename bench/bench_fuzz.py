"""schemathesis against a live `kadr serve` on loopback, at least --cases test cases; prints JSON.

    python bench/bench_fuzz.py                      # >= 10,000 cases, at most 40 minutes
    python bench/bench_fuzz.py --cases 2000 --max-minutes 10 --db postgresql://postgres@127.0.0.1:5432/kadr

The server is started fresh (a new data folder, SQLite unless --db) with ZERO generation workers: the
videos the fuzzer creates are accepted, charged and queued like any other, but none is generated, so
the run measures the API and not kadr-tiny burning the CPU. Its plan has no request-rate limit worth the
name (a million a second) and room for 100,000 queued videos, so no answer is a 429 standing in for
the real one. The run is the in-suite one (tests/schema_fuzz.py: every check, every phase, positive
and negative data), with more examples per operation, repeated with new seeds until --cases are done
or --max-minutes are spent (each run is cut at what time is left).

Output: cases, server errors (5xx answers), failures by check, the fuzzer's own errors, statuses seen,
wall time. On a loaded machine the wall time is noisy: it says what this run took, nothing more.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import schema_fuzz  # noqa: E402



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="stop once this many cases ran")
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop after this long in any case")
    parser.add_argument("--examples", type=int, default=150, help="examples per operation and phase, per run")
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite in the data folder)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="schemathesis worker threads (2 met a hypothesis ast.parse race on Python 3.11)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kadr-fuzz-"))
    server, key = schema_fuzz.start_idle(root / "data", db=args.db, user="fuzzer")
    total = schema_fuzz.FuzzReport()
    runs = 0
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    try:
        while total.cases < args.cases and time.monotonic() < deadline - 30:
            report = schema_fuzz.run(server.url, key, args.examples, seed=args.seed + runs,
                                     workers=args.workers, max_time_s=int(deadline - time.monotonic()))
            runs += 1
            total.cases += report.cases
            total.server_errors += report.server_errors
            total.statuses.update(report.statuses)
            total.failures_by_check.update(report.failures_by_check)
            total.failure_samples += report.failure_samples[:5]
            total.errors += report.errors
            total.stop_reason = report.stop_reason
            print(f"run {runs}: {report.cases} cases in {report.wall_s:.0f} s, {report.server_errors} server errors, "
                  f"failures {dict(report.failures_by_check)}", file=sys.stderr, flush=True)
        log = server.log_path.read_text() if server.log_path else ""
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    total.wall_s = time.monotonic() - started
    result = {
        **total.as_dict(),
        "runs": runs,
        "examples_per_operation": args.examples,
        "store": "postgresql" if args.db else "sqlite",
        "server_workers": 0,
        "fuzzer_workers": args.workers,
        "server_tracebacks": log.count("Traceback"),
        "failure_samples": total.failure_samples[:5],
        "fuzzer_error_samples": total.errors[:3],
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if total.server_errors == 0 and not total.failures_by_check and not total.errors else 1


if __name__ == "__main__":
    sys.exit(main())
