"""Soak the model server at a steady load, or hit it with many connections at once.

Run from the repository root::

    .venv/bin/python bench/soak.py --seconds 300          # 5 minutes at 200 requests/s
    .venv/bin/python bench/soak.py --connections 1000     # 1,000 connections at once

Both train and register the churn sample model in a temporary project and
serve it with ``mlops-nb``'s defaults (uvicorn, loopback, a model worker
process, the inference log on) in a subprocess, as ``bench/serving.py`` does.
The clients run on the same machine (loopback only) and share its cores.

* **Soak**: ``--clients`` keep-alive connections send single-row requests
  paced to ``--rate`` requests/s in all for ``--seconds``. Every minute (or
  ``--interval``) it prints p50/p99 latency, the requests and failures, and
  the resident memory (RSS) of the server plus its model worker. Goals: RSS
  growth from the first interval to the last <= 50 MB; the highest p99 within
  2x the lowest (a stable p99); no request failed.
* **Connections**: ``--connections N`` connections open at once, each sends
  ``--per-connection`` requests; it prints the peak RSS of server and worker,
  the status counts and the slowest request. Goals: every request answered,
  none with 500.

The exit status is 0 when every goal is met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from serving import make_project, percentile, start, valid_inputs

GOAL_RSS_GROWTH_MB = 50.0
GOAL_P99_SPREAD = 2.0
MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and its children (the model worker)."""
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return int(total)


def request_bytes(body: bytes) -> bytes:
    return (
        b"POST /predict HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request and read its answer; the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


@dataclass
class Interval:
    """What one interval of the soak measured."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    rss: int = 0


async def paced_client(
    port: int,
    requests: list[bytes],
    every: float,
    stop: float,
    record: list[Interval],
    started: float,
    interval: float,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due, i = time.perf_counter(), 0
    try:
        while (now := time.perf_counter()) < stop:
            if due > now:
                await asyncio.sleep(due - now)
            sent = time.perf_counter()
            try:
                status = await exchange(reader, writer, requests[i % len(requests)])
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            slot = record[min(len(record) - 1, int((sent - started) // interval))]
            slot.latencies.append(time.perf_counter() - sent)
            slot.statuses[status] += 1
            due += every
            i += 1
    finally:
        writer.close()


def soak(pid: int, port: int, requests: list[bytes], args: argparse.Namespace) -> list[Interval]:
    """Run the paced load, sampling RSS at the end of every interval."""
    count = max(1, round(args.seconds / args.interval))
    record = [Interval() for _ in range(count)]
    started = time.perf_counter()
    stop = started + args.seconds
    done = threading.Event()

    def sample() -> None:
        for index in range(count):
            done.wait(max(0.0, started + (index + 1) * args.interval - time.perf_counter()))
            record[index].rss = rss(pid)
            slot = record[index]
            p50, p99 = (percentile(slot.latencies, q) * 1e3 for q in (0.5, 0.99))
            failed = sum(n for code, n in slot.statuses.items() if code != 200)
            print(
                f"  {index + 1:>3}  {len(slot.latencies) / args.interval:>6,.0f} req/s  "
                f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  failed {failed}  "
                f"RSS {slot.rss / MB:7.1f} MB",
                flush=True,
            )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    every = args.clients / args.rate

    async def run() -> None:
        await asyncio.gather(
            *[
                paced_client(port, requests, every, stop, record, started, args.interval)
                for _ in range(args.clients)
            ]
        )

    asyncio.run(run())
    done.set()
    sampler.join(30)
    return record


def judge_soak(record: list[Interval]) -> bool:
    growth = (record[-1].rss - record[0].rss) / MB
    p99s = [percentile(slot.latencies, 0.99) * 1e3 for slot in record if slot.latencies]
    failed = sum(n for slot in record for code, n in slot.statuses.items() if code != 200)
    spread = max(p99s) / max(min(p99s), 1e-9)
    goals = [
        (f"RSS growth {growth:+.1f} MB <= {GOAL_RSS_GROWTH_MB:g} MB", growth <= GOAL_RSS_GROWTH_MB),
        (
            f"p99 from {min(p99s):.2f} to {max(p99s):.2f} ms: spread {spread:.2f}x <= "
            f"{GOAL_P99_SPREAD:g}x",
            spread <= GOAL_P99_SPREAD,
        ),
        (f"{failed} requests failed == 0", failed == 0),
    ]
    return report(goals)


def report(goals: list[tuple[str, bool]]) -> bool:
    print("\ngoals:")
    for text, ok in goals:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in goals)


async def one_connection(
    port: int, requests: list[bytes], count: int, gate: asyncio.Event, out: list[tuple[int, float]]
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        out.append((0, 0.0))
        return
    await gate.wait()
    try:
        for i in range(count):
            sent = time.perf_counter()
            try:
                status = await exchange(reader, writer, requests[i % len(requests)])
            except (OSError, asyncio.IncompleteReadError):
                status = 0
            out.append((status, time.perf_counter() - sent))
            if status == 0:
                return
    finally:
        writer.close()


def connections(pid: int, port: int, requests: list[bytes], args: argparse.Namespace) -> bool:
    """Open ``args.connections`` at once, each sending ``args.per_connection`` requests."""
    out: list[tuple[int, float]] = []
    peak = [rss(pid)]
    before = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def run() -> float:
        gate = asyncio.Event()
        tasks = [
            asyncio.create_task(one_connection(port, requests, args.per_connection, gate, out))
            for _ in range(args.connections)
        ]
        await asyncio.sleep(0.5)  # let every connection open before the first request
        started = time.perf_counter()
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), args.timeout)
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    done.set()
    sampler.join(5)
    statuses = Counter(status for status, _ in out)
    slowest = max(seconds for _, seconds in out) * 1e3
    expected = args.connections * args.per_connection
    print(f"\n{args.connections:,} connections x {args.per_connection} requests in {elapsed:.1f} s")
    print(f"  statuses: {dict(sorted(statuses.items()))} (0: no answer)")
    print(f"  slowest request {slowest:,.0f} ms")
    print(f"  RSS server + worker: {before / MB:.1f} MB before, peak {peak[0] / MB:.1f} MB")
    return report(
        [
            (f"{statuses[200]:,} of {expected:,} answered 200", statuses[200] == expected),
            (f"{statuses[500]} answered 500 == 0", statuses[500] == 0),
        ]
    )


def raise_file_limit(needed: int) -> None:
    """Raise this process's open-file limit (the server inherits it) for ``needed`` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            raise SystemExit(
                f"{needed} open files are needed but the hard limit is {hard}; run "
                f"`ulimit -n {needed}` as root or ask for fewer --connections"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="soak length (300)")
    parser.add_argument("--interval", type=float, default=60.0, help="report every (60 s)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s in all (200)")
    parser.add_argument("--clients", type=int, default=8, help="soak connections (8)")
    parser.add_argument("--connections", type=int, help="instead: this many at once")
    parser.add_argument("--per-connection", type=int, default=3, help="requests each (3)")
    parser.add_argument("--timeout", type=float, default=300.0, help="connections run limit")
    args = parser.parse_args()
    if args.connections:
        raise_file_limit(args.connections + 256)
    with tempfile.TemporaryDirectory(prefix="mlops-nb-soak-") as name:
        folder = Path(name)
        make_project(folder)
        records = json.loads(valid_inputs(rows=2000, seed=11).to_json(orient="records"))
        requests = [request_bytes(json.dumps({"records": [r]}).encode()) for r in records]
        process, url = start(folder)
        port = int(url.rsplit(":", 1)[1])
        try:
            if args.connections:
                ok = connections(process.pid, port, requests, args)
            else:
                print(
                    f"soak: {args.rate:g} requests/s over {args.clients} connections for "
                    f"{args.seconds:g} s; every {args.interval:g} s:"
                )
                ok = judge_soak(soak(process.pid, port, requests, args))
        finally:
            process.terminate()
            process.wait(30)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
