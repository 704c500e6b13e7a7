"""Bounded load on a real portal on 127.0.0.1: leaderboard reads by concurrent readers, 1000-case submissions.

Usage::

    nice -n 10 .venv/bin/python benchmarks/portal_load.py --readers 1,10,50 --reads 40 --teams 20 --submissions 10

Builds a release of ``--cases`` test cases (two lesions each, no images), publishes it, opens a case-level
``malignant`` phase on the test labels (metrics auc, balanced_accuracy, macro_f1, cohen_kappa, lld, brier;
ranked by mean rank), starts ``lai serve`` (SQLite) in a subprocess and then measures:

- ``submit``: ``--submissions`` sequential POSTs of a ``--cases``-row predictions CSV (check, count, score in the
  worker process, sign, store), each timed end to end by the client; goal: under 2 s;
- ``leaderboard``: for each count in ``--readers``, that many concurrent httpx async clients each reading the phase's leaderboard
  ``--reads`` times, over ``--teams`` teams with scored submissions; goal: p99 under 100 ms at 50 readers;
- ``leaderboard (wrk)``: when Debian's ``wrk`` is installed, the same reads by wrk (one thread, 50 connections,
  ``--wrk-seconds``): a load generator in C, whose own CPU use does not crowd the server's on a small machine
  as a Python client's does.

The release builder and server starter are the test suite's (tests/portal_release.py), so the benchmark
runs the same portal the tests check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lai.portal import audit
from lai.portal.accounts import add_user, create_token, decide, request_access
from lai.portal.models import Release, connect
from portal_release import start_portal


def case_predictions(case_ids: list[str], seed: int) -> bytes:
    """Return a case-level malignant predictions CSV with random probabilities."""
    rng = np.random.default_rng(seed)
    p = rng.random(len(case_ids))
    lines = ["case_id,proba_benign,proba_malignant"] + [
        f"{c},{1 - x:.6f},{x:.6f}" for c, x in zip(case_ids, p, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def tokens_for_teams(db: str, teams: int) -> list[str]:
    """Create one participant per team with approved access and a submit token (directly in the database)."""
    sessions = connect(db)
    made = []
    for i in range(teams):
        with audit.transaction(sessions) as session:
            user = add_user(
                session, f"team{i}@bench.example", f"Team {i}", "benchmark-pw-1", team=f"Team {i:02d}"
            )
            release = session.get(Release, 1)
            assert release is not None
            decide(
                session,
                request_access(session, user, release, accept_dua=True, purpose="load"),
                approve=True,
                actor="admin",
            )
            made.append(create_token(session, user, "bench", "read,download,submit")[1])
    return made


def server_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """Return p50 and p99 in milliseconds (nearest-rank)."""
    ordered = sorted(seconds)
    rank = lambda q: ordered[min(len(ordered) - 1, max(0, int(np.ceil(q * len(ordered))) - 1))]  # noqa: E731
    return 1000 * rank(0.50), 1000 * rank(0.99)


def wrk_board(url: str, connections: int, seconds: int) -> tuple[float, float, float] | None:
    """Return requests/s, p50 and p99 in ms of wrk reading the leaderboard, or None without wrk."""
    if shutil.which("wrk") is None:
        return None
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        f"{url}/api/phases/1/leaderboard",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match is not None, output
        return float(match.group(1)) * units[match.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    assert rate is not None and errors is None, output
    return float(rate.group(1)), latency("50"), latency("99")


async def read_board(url: str, readers: int, reads: int) -> tuple[list[float], float]:
    """Run ``readers`` concurrent clients, each reading the leaderboard ``reads`` times; return latencies, wall."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def reader() -> None:
            for _ in range(reads):
                start = time.perf_counter()
                response = await client.get("/api/phases/1/leaderboard")
                latencies.append(time.perf_counter() - start)
                assert response.status_code == 200 and response.json()["rows"], response.text

        start = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(readers)))
        return latencies, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--submissions", type=int, default=10, help="timed 1000-case submissions")
    parser.add_argument("--readers", default="1,10,50", help="comma-separated concurrent reader counts")
    parser.add_argument("--reads", type=int, default=40, help="leaderboard reads per reader")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="duration of the wrk run (if installed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        portal = start_portal(Path(tmp), None, n_train=4, n_test=args.cases)
        try:
            portal.cli(
                "portal",
                "phase",
                "open",
                "load",
                "final",
                "--release",
                "lai-portal-test:1.0.0",
                "--level",
                "case",
                "--metrics",
                "auc,balanced_accuracy,macro_f1,cohen_kappa,lld,brier",
                "--rank-by",
                "mean_rank",
                "--quota",
                "100000",
            )
            tokens = tokens_for_teams(portal.db, args.teams)
            cases = sorted(portal.release.test_cases)
            client = httpx.Client(base_url=portal.url, timeout=120)
            warm = client.post(
                "/api/phases/1/submissions",
                headers={"Authorization": f"Bearer {tokens[0]}"},
                files={"file": ("p.csv", case_predictions(cases, 0))},
            )
            assert warm.status_code == 201, warm.text  # the scoring process has started
            submit_times = []
            for i in range(args.submissions):
                data = case_predictions(cases, i + 1)
                start = time.perf_counter()
                response = client.post(
                    "/api/phases/1/submissions",
                    files={"file": ("p.csv", data)},
                    headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                )
                submit_times.append(time.perf_counter() - start)
                assert response.status_code == 201, response.text
            for i, token in enumerate(tokens[1:], start=1):  # every team on the board
                client.post(
                    "/api/phases/1/submissions",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("p.csv", case_predictions(cases, 100 + i))},
                )
            boards, cpu = {}, {}
            for n in map(int, args.readers.split(",")):
                server, client_cpu = server_cpu(portal.process.pid), time.process_time()
                boards[n] = asyncio.run(read_board(portal.url, n, args.reads))
                cpu[n] = (server_cpu(portal.process.pid) - server, time.process_time() - client_cpu)
            wrk = wrk_board(portal.url, 50, args.wrk_seconds)
        finally:
            portal.stop()
    s50, s99 = percentiles(submit_times)
    print(
        f"\nportal load on 127.0.0.1 (SQLite, one uvicorn process, one scoring worker), {args.cases}-case file, "
        f"{args.teams} teams\n"
    )
    print(
        "| measurement | requests | requests/s | p50 ms | p99 ms | goal | server CPU ms/request | client CPU ms/request |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    print(
        f"| submit {args.cases}-case file (sequential) | {len(submit_times)} | "
        f"{len(submit_times) / sum(submit_times):.1f} | {s50:.0f} | {s99:.0f} | < 2000 ms |"
    )
    for readers, (latencies, wall) in boards.items():
        r50, r99 = percentiles(latencies)
        goal = "p99 < 100 ms" if readers == 50 else ""
        print(
            f"| leaderboard, {readers} concurrent reader(s) | {len(latencies)} | {len(latencies) / wall:.0f} | "
            f"{r50:.1f} | {r99:.1f} | {goal} | {1000 * cpu[readers][0] / len(latencies):.2f} | "
            f"{1000 * cpu[readers][1] / len(latencies):.2f} |"
        )
    if wrk is not None:
        rate, w50, w99 = wrk
        print(
            f"| leaderboard (wrk), 50 connections, {args.wrk_seconds} s | | {rate:.0f} | {w50:.1f} | {w99:.1f} | p99 < 100 ms | | |"
        )
    print(f"\nsubmission mean {1000 * statistics.mean(submit_times):.0f} ms")


if __name__ == "__main__":
    main()
