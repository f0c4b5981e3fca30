"""``mlops-nb serve`` and ``mlops-nb predict``: a model behind HTTP, or over a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from mlops_nb.cli.output import console, is_quiet, print_json
from mlops_nb.config import load_settings
from mlops_nb.serving.options import MAX_TEXT_CHARS, MAX_TEXT_CHARS_ENV

__all__ = ["predict", "serve"]


def serve(
    model: Annotated[
        str | None, typer.Argument(help="NAME[@ALIAS|:VERSION] in the registry.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model_dir: Annotated[
        Path | None, typer.Option(help="Serve a deployment bundle's model folder instead.")
    ] = None,
    force_insecure: Annotated[
        bool, typer.Option(help="Allow a non-loopback host without a token (not advised).")
    ] = False,
    max_text_chars: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=MAX_TEXT_CHARS_ENV,
            help="Longest text in a string column whose contract sets no length (422 beyond).",
        ),
    ] = MAX_TEXT_CHARS,
    access_log: Annotated[
        str,
        typer.Option(
            help="One line per request on stderr: off, text, or json (time, method, path, "
            "status, duration_ms, rows, request_id, client; never the body or the token).",
        ),
    ] = "off",
    metrics_token: Annotated[
        bool,
        typer.Option(help="/metrics needs the bearer token too (default: open, like /health)."),
    ] = False,
) -> None:
    """Serve a model over HTTP: POST /predict, /invocations (MLflow), /v2 (KServe), /metrics."""
    from mlops_nb.serving import serve as run_server
    from mlops_nb.serving.options import ACCESS_LOG_FORMATS

    if (model is None) == (model_dir is None):
        raise typer.BadParameter("give a model reference (NAME@ALIAS) or --model-dir, not both")
    if access_log not in ACCESS_LOG_FORMATS:
        raise typer.BadParameter(
            f"--access-log {access_log!r}: use one of {', '.join(ACCESS_LOG_FORMATS)}"
        )
    settings = None if model_dir is not None else load_settings()
    target = str(model_dir) if model_dir is not None else str(model)
    console.print(
        f"serving [bold]{target}[/] on http://{host}:{port} (Ctrl+C stops)", soft_wrap=True
    )
    run_server(
        target,
        settings,
        host=host,
        port=port,
        force_insecure=force_insecure,
        max_text_chars=max_text_chars,
        access_log=access_log,
        metrics_token=metrics_token,
        **({"bundle": True} if model_dir is not None else {}),
    )


def predict(
    model: Annotated[str, typer.Argument(help="NAME[@ALIAS|:VERSION] in the registry.")],
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="CSV or Parquet file; or a Parquet dataset: folder, glob, s3://bucket/prefix/.",
        ),
    ],
    output_path: Annotated[
        str, typer.Argument(metavar="OUTPUT", help=".csv or .parquet; a folder for a dataset")
    ],
    chunk_rows: Annotated[int | None, typer.Option(help="Rows per chunk.")] = None,
    invalid: Annotated[str | None, typer.Option(help="Where invalid rows go.")] = None,
    executor: Annotated[
        str | None,
        typer.Option(help="local, or dask: score a dataset's partitions on a Dask cluster."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="The Dask scheduler, e.g. tcp://127.0.0.1:8786 (with --executor dask)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was scored as JSON, nothing else.")
    ] = False,
) -> None:
    """Score a file in chunks, or a Parquet dataset partition by partition (here or on Dask).

    Rows that break the model's contract are reported, not scored.
    """
    from mlops_nb.registry import Registry
    from mlops_nb.serving import predict_file
    from mlops_nb.serving.batch import predict_dataset
    from mlops_nb.serving.batch.datasets import is_dataset

    settings = load_settings()
    dataset = executor is not None and executor.strip().lower() != "local"
    with Registry.from_settings(settings) as registry, _progress(as_json) as bar:
        task = bar.add_task("scoring", total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        if dataset or is_dataset(input_path):
            result = predict_dataset(
                registry,
                model,
                input_path,
                output_path,
                executor=executor or "local",
                scheduler=scheduler or settings.scheduler,
                chunk_rows=chunk_rows,
                progress=report,
                invalid_path=invalid,
            )
        else:
            result = predict_file(
                registry,
                model,
                Path(input_path),
                Path(output_path),
                chunk_rows=chunk_rows,
                progress=report,
                invalid_path=invalid,
            )
    if as_json:
        print_json(result.summary())
    else:
        _print_result(result)


def _progress(as_json: bool) -> Progress:
    """The progress bar: none (disabled) with --json or --quiet."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or is_quiet(),
    )


def _print_result(result: Any) -> None:
    console.print(
        f"scored {result.scored:,} of {result.rows:,} rows with {result.model} "
        f"v{result.version} in {result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s) "
        f"→ {result.output}",
        soft_wrap=True,
    )
    if result.invalid:
        console.print(
            f"[yellow]{result.invalid:,} invalid rows[/] (not scored) → {result.invalid_output}",
            soft_wrap=True,
        )
