"""Benchmark the mlops-nb model server and batch scoring on this machine.

Run from the repository root::

    .venv/bin/python bench/serving.py            # about a minute
    .venv/bin/python bench/serving.py --quick    # fewer requests, shorter runs

In a temporary project it trains the churn sample pipeline (the project's own
feature steps and a logistic regression), registers it as ``churn@production``
and serves it with ``mlops-nb``'s defaults (uvicorn, one worker, loopback,
model worker process, inference log on) in a subprocess. It then measures:

1. single-row latency: sequential requests over one keep-alive httpx
   connection after a warm-up; p50, p99, mean (reported, not a goal);
2. requests/s with concurrent clients: N keep-alive connections driven by a
   lean asyncio HTTP/1.1 client for a few seconds each, N = 8, 16, 32, 64
   (plus 16 httpx clients on threads, for reference), and the p50/p99 latency
   of every request of each run, measured by the client under that load.
   **The clients run on the same 2 cores as the server and its model
   worker**, so they take CPU from it;
3. batch scoring, rows/s on 100,000 rows: the serving path's validated scoring
   (``Scorer.score_frame``: contract checks, then predictions and
   probabilities) and ``predict_file`` (Parquet in and out, chunked), against
   the raw scikit-learn pipeline's ``predict`` on the same frame.

Goals: >= 1,000 requests/s at 8 connections; p99 <= 20 ms under that same
8-connection load; batch (``score_frame`` and ``predict_file``) >= 0.9x raw.
The exit status is 0 only when every goal is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_nb.config import Settings
from mlops_nb.data import generate_churn
from mlops_nb.features import build_feature_pipeline, infer_feature_types
from mlops_nb.prep import cleanse, standardize
from mlops_nb.registry import Registry
from mlops_nb.serving.scoring import Scorer
from mlops_nb.validation import input_contract, load_contract, validate

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "churn.yaml"
GOAL_P99_MS = 20.0
GOAL_RPS = 1_000.0
GOAL_CONNECTIONS = 8
GOAL_BATCH = 0.9
BATCH_ROWS = 100_000
SERVER = """
import sys
from pathlib import Path
from mlops_nb.config import Settings
from mlops_nb.serving import serve
root, port = Path(sys.argv[1]), int(sys.argv[2])
serve("churn@production", Settings(root, root / "outputs"), port=port, log_level="warning")
"""


def fit_churn_model() -> Pipeline:
    """The project's feature steps and a logistic regression, fitted on 500 sample rows."""
    data = cleanse(standardize(generate_churn(500, seed=1), "churned")[0], "churned").data
    steps = build_feature_pipeline(infer_feature_types(data, "churned"), "binary").steps
    model = Pipeline([*steps, ("model", LogisticRegression(max_iter=500))])
    return model.fit(data.drop(columns="churned"), data["churned"])


def valid_inputs(rows: int, seed: int) -> pd.DataFrame:
    """Sample rows (no target) that pass the contract."""
    raw = generate_churn(rows, seed=seed)
    result = validate(raw, load_contract(CONTRACT), on_invalid="quarantine", max_invalid_fraction=1)
    return result.valid.drop(columns="churned").reset_index(drop=True)


def make_project(folder: Path) -> Settings:
    """Train and register the churn model; return the project's settings."""
    settings = Settings(folder, folder / "outputs")
    with Registry.from_settings(settings) as registry:
        registry.register(
            "churn",
            fit_churn_model(),
            signature=input_contract(load_contract(CONTRACT), "churned"),
            task="binary",
            target="churned",
            metrics={"roc_auc": 0.8},
            data_version="bench",
            pipeline_run=None,
            training_run=None,
        )
        registry.set_alias("churn", "production", 1, reason="benchmark")
    return settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Serve the model in a subprocess; wait for /health."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(folder), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def latency(url: str, bodies: list[bytes], warmup: int, count: int) -> list[float]:
    """Seconds per request, sequential, one keep-alive connection."""
    times = []
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(warmup + count):
            started = time.perf_counter()
            response = client.post("/predict", content=bodies[i % len(bodies)], headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"request failed: {response.status_code} {response.text}")
            if i >= warmup:
                times.append(elapsed)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _connection(
    port: int, requests: list[bytes], stop: float, counts: list[int], times: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        writer.write(requests[i % len(requests)])
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        times.append(time.perf_counter() - started)
        counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
        i += 1
    writer.close()


def throughput(
    url: str, bodies: list[bytes], clients: int, seconds: float
) -> tuple[float, int, list[float]]:
    """Requests/s over ``clients`` keep-alive connections, failures, each request's seconds."""
    port = int(url.rsplit(":", 1)[1])
    requests = [
        b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        for body in bodies
    ]
    counts = [0, 0]
    times: list[float] = []

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(
            *[_connection(port, requests, stop, counts, times) for _ in range(clients)]
        )

    started = time.perf_counter()
    asyncio.run(run())
    return counts[0] / (time.perf_counter() - started), counts[1], times


def httpx_throughput(url: str, bodies: list[bytes], clients: int, seconds: float) -> float:
    """Requests/s with ``clients`` threads, each with its own httpx client."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.perf_counter() < stop:
                client.post("/predict", content=bodies[index % len(bodies)])
                done[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def best_of(repeats: int, action: Callable[[], Any]) -> float:
    """Fastest of ``repeats`` runs of ``action``, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def batch(settings: Settings, frame: pd.DataFrame, folder: Path) -> dict[str, float]:
    """Rows/s: raw predict, validated scoring, and predict_file on Parquet."""
    with Registry.from_settings(settings) as registry:
        loaded = registry.load("churn@production")
        scorer = Scorer(loaded)
        raw = best_of(3, lambda: loaded.model.predict(frame))
        served = best_of(3, lambda: scorer.score_frame(frame))
        _, scores, errors = scorer.score_frame(frame)
        assert not errors and (scores.predictions == loaded.model.predict(frame)).all()
        figures = {"raw": len(frame) / raw, "score_frame": len(frame) / served}
        try:
            from mlops_nb.serving.batch import predict_file
        except ImportError:
            return figures
        source = folder / "batch.parquet"
        frame.to_parquet(source)
        elapsed = best_of(
            2, lambda: predict_file(registry, "churn@production", source, folder / "out.parquet")
        )
        figures["predict_file"] = len(frame) / elapsed
    return figures


def http_figures(url: str, bodies: list[bytes], count: int, seconds: float) -> dict[str, Any]:
    """Latency and throughput of the live server; printed as they come."""
    times = latency(url, bodies, warmup=100, count=count)
    p50, p99 = percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3
    mean = statistics.mean(times) * 1e3
    print(f"\nsingle-row latency, {count} sequential requests over one connection (no load):")
    print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   mean {mean:.1f} ms")
    print(
        f"\nrequests/s, single-row requests, {seconds:g} s per run; latency of every request "
        f"under that load (the clients share the {os.cpu_count()} CPUs with the server):"
    )
    rates, loaded = {}, {}
    for clients in (8, 16, 32, 64):
        rates[clients], failed, times = throughput(url, bodies, clients, seconds)
        loaded[clients] = (percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3)
        extra = f"  ({failed} not 200)" if failed else ""
        print(
            f"  {clients:>3} connections, asyncio client: {rates[clients]:>6.0f} req/s   "
            f"p50 {loaded[clients][0]:5.1f} ms   p99 {loaded[clients][1]:5.1f} ms{extra}"
        )
    rate = httpx_throughput(url, bodies, 16, seconds)
    print(f"   16 httpx clients on threads:      {rate:>6.0f} req/s")
    return {"p50": p50, "p99": p99, "rates": rates, "loaded": loaded}


def judge(http: dict[str, Any], figures: dict[str, float]) -> bool:
    """Print each goal with PASS or FAIL; True when all are met."""
    n = GOAL_CONNECTIONS
    rate, p99 = http["rates"][n], http["loaded"][n][1]
    goals = [
        (f"{rate:,.0f} req/s at {n} connections >= {GOAL_RPS:,.0f}", rate >= GOAL_RPS),
        (
            f"p99 latency under the {n}-connection load {p99:.1f} ms <= {GOAL_P99_MS:g} ms",
            p99 <= GOAL_P99_MS,
        ),
    ]
    for label, rate in figures.items():
        if label != "raw":
            ratio = rate / figures["raw"]
            goals.append(
                (f"batch, {label}: {ratio:.2f}x raw predict >= {GOAL_BATCH}x", ratio >= GOAL_BATCH)
            )
    print("\ngoals:")
    for text, ok in goals:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in goals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs")
    args = parser.parse_args()
    count, seconds = (200, 2.0) if args.quick else (500, 5.0)
    print(f"machine: {os.cpu_count()} CPUs; clients share them with the server and its worker")
    with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-") as name:
        folder = Path(name)
        settings = make_project(folder)
        frame = valid_inputs(rows=2000, seed=11)
        records = json.loads(frame.to_json(orient="records"))
        bodies = [json.dumps({"records": [record]}).encode() for record in records]
        process, url = start(folder)
        try:
            http = http_figures(url, bodies, count, seconds)
        finally:
            process.terminate()
            process.wait(30)
        big = pd.concat([frame] * (BATCH_ROWS // len(frame) + 1), ignore_index=True)
        figures = batch(settings, big.iloc[:BATCH_ROWS].copy(), folder)
    print(f"\nbatch scoring of {BATCH_ROWS:,} rows (best of 3; predict_file: of 2):")
    for label, rate in figures.items():
        print(f"  {label:<13} {rate:>10,.0f} rows/s   {rate / figures['raw']:.2f}x raw predict")
    return 0 if judge(http, figures) else 1


if __name__ == "__main__":
    sys.exit(main())
