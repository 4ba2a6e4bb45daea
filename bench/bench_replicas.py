"""Two `kadr serve` replicas on one PostgreSQL: 100 concurrent submissions from 10 users, then kill -9 of
the replica running a job; prints JSON (the scenario of tests/test_service_replicas.py, measured).

    python bench/bench_replicas.py                 # a throwaway PostgreSQL (Debian's binaries), as the tests
    python bench/bench_replicas.py --db postgresql://postgres@127.0.0.1:5432/kadr_bench   # an empty database

Figures: submissions, accepted and refused (each user's monthly limit exactly), claims per replica, jobs
run or charged other than once, overlapping runs of one user (concurrency 1 across replicas), the time
until every accepted video is done, and the takeover: seconds from kill -9 to the other replica's claim
(bounded by the lease, ``replicas_scenario.LEASE_S``, plus one reconciliation) and to completion.
Timings on a loaded machine are noisy; the counts are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import conftest  # noqa: E402
import replicas_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=None, help="an empty postgresql:// database (default: a throwaway server)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.db:
            db_url = args.db
        else:  # the tests' own PostgreSQL fixture, run as a context manager
            server = stack.enter_context(contextlib.contextmanager(conftest.postgres.__wrapped__)())
            db_url = server.new_database()
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kadr-bench-replicas-")))
        servers = replicas_scenario.start_replicas(root, db_url)
        try:
            burst, users = replicas_scenario.burst(servers, db_url)
            key = next(iter(users.values()))[1]
            takeover = replicas_scenario.kill_mid_job(servers, db_url, key)
        finally:
            for server in servers:
                server.stop()
    print(json.dumps({"bench": "replicas", "cpus": os.cpu_count(), "replicas": 2, "workers_each": 1,
                      "burst": burst.figures(), "takeover": takeover.figures()}, indent=2))


if __name__ == "__main__":
    main()
