"""``mlops-nb cluster local``: a Dask cluster on this machine, for people without one."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from mlops_nb.cli.output import console
from mlops_nb.errors import RunError

__all__ = ["cluster_app"]

cluster_app = typer.Typer(help="A Dask cluster to run stages on.", no_args_is_help=True)


@cluster_app.command("local")
def cluster_local(
    workers: Annotated[int, typer.Option("--workers", "-n", min=1, help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="Threads per worker.")] = 2,
    port: Annotated[int, typer.Option(help="The scheduler's port (0: any free one).")] = 8786,
    dashboard: Annotated[
        str, typer.Option(help="The dashboard's address (empty: no dashboard).")
    ] = "127.0.0.1:8787",
) -> None:
    """Start a Dask LocalCluster on 127.0.0.1 and print its address; Ctrl-C stops it.

    A stage lost with its worker is retried once on another worker. Then run:
    mlops-nb run --executor dask --scheduler ADDRESS
    """
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as exc:
        raise RunError(
            "a Dask cluster needs dask.distributed: pip install 'mlops-nb[dask]'"
        ) from exc
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            scheduler_port=port,
            dashboard_address=dashboard or None,
        )
    console.print(f"scheduler  [bold]{cluster.scheduler_address}[/]", soft_wrap=True)
    if dashboard:
        console.print(f"dashboard  {cluster.dashboard_link}", soft_wrap=True)
    console.print(
        f"run on it: mlops-nb run --executor dask --scheduler {cluster.scheduler_address} "
        f"(Ctrl-C stops the cluster)",
        soft_wrap=True,
    )
    try:
        while True:
            time.sleep(3600)
    finally:
        cluster.close()
