"""Kernels for stages: a fresh one per stage, its own stderr kept in the stage folder.

The kernel process writes start-up chatter and, when it dies, the reason to its
stderr; the runner keeps that in ``<stage>/kernel.log`` instead of the user's
terminal, and the run report links it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

KERNEL_LOG = "kernel.log"


class StageKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel writes its stderr to a file."""

    log_path: Path | None = None

    async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
        if self.log_path is not None:
            handle = self.log_path.open("ab")
            kwargs.setdefault("stderr", handle)
            try:
                await super().start_kernel(**kwargs)
            finally:
                handle.close()  # the child keeps its own descriptor
            return
        await super().start_kernel(**kwargs)


def stage_kernel_manager(kernel_name: str, stage_dir: Path) -> StageKernelManager:
    """A kernel manager for one stage, logging the kernel's stderr in ``stage_dir``."""
    manager = StageKernelManager(kernel_name=kernel_name)
    manager.log_path = stage_dir / KERNEL_LOG
    return manager
