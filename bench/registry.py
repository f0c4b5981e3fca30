"""Benchmark loading a registered model from S3 against loading it from a local folder.

Run from the repository root (``bench/tracking.py`` runs it too, after the tracking rows)::

    .venv/bin/python bench/registry.py

It needs the ``s3`` extra and ``moto[server]`` (the ``test`` extra). The script
starts moto's S3-compatible server on 127.0.0.1 (pointed at through the standard
``AWS_ENDPOINT_URL`` and ``AWS_*`` credential variables, as a team would point
at MinIO or S3) and stops it at the end.

The model is the churn sample's trained pipeline, made as the train stage makes
it: 2,000 sample rows standardised, cleansed and split, the project's feature
pipeline, and ``mlops_nb.tune`` (budget 6, 3 folds) choosing the best candidate
(a ~3 MB ``model.skops``). It is registered twice:

* into a local registry (the embedded default: packages under
  ``outputs/registry``, no artifact location), and
* into a registry whose artifact location is ``s3://BUCKET/team``.

Then ``Registry.load()`` is timed, median of 5:

1. local: the package is already in the folder (checksum, then skops load);
2. S3, first load on a fresh machine folder: fetch every file of the package,
   verify each SHA-256, then load. Each repeat uses a new empty folder and a new
   S3 client (s3fs's instance cache cleared), as a new machine would;
3. S3, second load on the same machine: the files are there, re-verified, not
   fetched again.

Both registries keep their rows in a SQLite file of their own, so the rows
differ only by where the package files are. Importing s3fs, paid once per
process, is measured apart and not included.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._servers import S3Endpoint, ServerUnavailable

REPEATS = 5
MODEL = "churn"


@dataclass
class LoadRow:
    label: str
    seconds: float
    note: str = ""


@dataclass
class LoadResults:
    rows: list[LoadRow]
    local_seconds: float
    model_bytes: int
    package_files: int
    s3fs_import_seconds: float


def say(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def churn_model() -> tuple[Any, Any, Any]:
    """The train stage's model on the churn sample: (pipeline, input contract, test rows)."""
    import mlops_nb as mn

    target = "churned"
    frame, _ = mn.standardize(mn.generate_churn(2000, seed=0), target)
    parts = mn.split(mn.cleanse(frame, target).data, target, "binary", seed=0)
    X, y = parts.train.drop(columns=[target]), parts.train[target]
    types = mn.infer_feature_types(parts.train, target)
    features = mn.build_feature_pipeline(types, "binary", selection="mutual_info", k=30, seed=0)
    result = mn.tune(features, X, y, "binary", budget=6, cv=3, seed=0)
    signature = mn.infer_contract(X, name="churn_inputs")
    return result.best_estimator, signature, parts.test.drop(columns=[target])


def register(registry: Any, model: Any, signature: Any) -> Any:
    return registry.register(
        MODEL,
        model,
        signature=signature,
        task="binary",
        target="churned",
        metrics={"roc_auc": 0.8},
        data_version="bench",
        pipeline_run=None,
        training_run=None,
    )


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


@contextmanager
def aws_environment(variables: dict[str, str]) -> Iterator[None]:
    """Set the AWS variables for the block, restoring the previous values after."""
    previous = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fresh_s3_client() -> None:
    """Forget s3fs's cached filesystem, so the next load builds its client as a new process."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def s3fs_import_seconds() -> float:
    """What importing s3fs costs a new process (once per process; not in the load rows)."""
    code = "import time; t = time.perf_counter(); import s3fs; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.strip())


def measure_loads(folder: Path, s3: S3Endpoint) -> LoadResults:
    """Register the churn model locally and on S3, then time ``Registry.load()`` (median of 5)."""
    from mlops_nb.registry import Registry
    from mlops_nb.store import ArtifactLocation

    say("registry: training the churn sample's model ...")
    model, signature, rows = churn_model()
    expected = model.predict(rows)

    def check(loaded: Any) -> None:
        if not (loaded.model.predict(rows) == expected).all():
            raise AssertionError("the loaded model predicts differently from the registered one")

    rows_out: list[LoadRow] = []
    say("registry: registering locally and on S3 ...")
    local = Registry(folder / "local" / "mlops.db", folder / "local" / "registry")
    registering_local, version = timed(lambda: register(local, model, signature))
    model_file = version.path / "model.skops"
    package_files = sum(1 for path in version.path.rglob("*") if path.is_file())

    bucket = s3.create_bucket("mlops-nb-bench-" + secrets.token_hex(4))
    url = f"s3://{bucket}/team"
    team_store = folder / "team" / "mlops.db"

    def machine(name: str) -> Registry:
        outputs = folder / name / "outputs"
        return Registry(team_store, outputs / "registry", location=ArtifactLocation(url, outputs))

    with aws_environment(s3.environment):
        publisher = machine("publisher")
        registering_s3, _ = timed(lambda: register(publisher, model, signature))

        say("registry: timing loads ...")
        check(local.load(MODEL))  # warm-up, untimed: imports and the page cache
        local_times, first_times, second_times = [], [], []
        for repeat in range(REPEATS):  # interleaved, so drift on shared cores hits all rows
            seconds, loaded = timed(lambda: local.load(MODEL))
            check(loaded)
            local_times.append(seconds)

            fresh_s3_client()
            reader = machine(f"reader-{repeat}")
            seconds, loaded = timed(lambda reader=reader: reader.load(MODEL))
            check(loaded)
            first_times.append(seconds)

            seconds, loaded = timed(lambda reader=reader: reader.load(MODEL))
            check(loaded)
            second_times.append(seconds)
            reader.close()
        publisher.close()
    local.close()

    local_median = statistics.median(local_times)
    rows_out.append(LoadRow("load, local folder (embedded default)", local_median))
    rows_out.append(
        LoadRow(
            "load from S3, first on a fresh machine",
            statistics.median(first_times),
            f"fetch {package_files} files + verify SHA-256 + load; new S3 client each time",
        )
    )
    rows_out.append(
        LoadRow(
            "load from S3, second (cached)",
            statistics.median(second_times),
            "files already fetched: re-verified, not downloaded",
        )
    )
    rows_out.append(LoadRow("register, local folder (once)", registering_local))
    rows_out.append(
        LoadRow("register + publish to S3 (once)", registering_s3, "package, PUT every file")
    )
    return LoadResults(
        rows=rows_out,
        local_seconds=local_median,
        model_bytes=model_file.stat().st_size,
        package_files=package_files,
        s3fs_import_seconds=s3fs_import_seconds(),
    )


def report(results: LoadResults) -> None:
    print(
        f"\nModel load: S3 (moto on 127.0.0.1) vs local folder; churn pipeline, model.skops "
        f"{results.model_bytes / 1e6:.1f} MB, {results.package_files} package files; "
        f"median of {REPEATS}\n"
    )
    print(f"{'measure':<42} {'time':>10} {'vs local':>9}  notes")
    for row in results.rows:
        ratio = row.seconds / results.local_seconds
        print(f"{row.label:<42} {duration(row.seconds):>10} {ratio:>8.2f}x  {row.note}")
    print(
        f"(importing s3fs costs a new process {duration(results.s3fs_import_seconds)} once; "
        f"not included above)"
    )


def run(folder: Path) -> LoadResults:
    """Start moto's S3 server, measure, stop it."""
    with S3Endpoint() as s3:
        return measure_loads(folder, s3)


def main() -> int:
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-registry-") as tmp:
            results = run(Path(tmp))
    except ServerUnavailable as exc:
        say(f"cannot run the registry benchmark: {exc}")
        return 2
    report(results)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
