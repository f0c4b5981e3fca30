"""Kernels for stages: a fresh one per stage, forked from a warm server where possible.

- :mod:`~mlops_nb.pipeline.kernels.pool`: a run's :class:`KernelPool` and each
  stage's :class:`StageKernel` (started, timed, retried once, always shut down);
- :mod:`~mlops_nb.pipeline.kernels.provisioner`: the jupyter_client kernel
  manager, client and provisioner that fork a kernel instead of starting one;
- the fork server, in three parts: what it imports first
  (:mod:`~mlops_nb.pipeline.kernels.preload`), the runner's handle on it
  (:mod:`~mlops_nb.pipeline.kernels.client`) and the server process itself
  (:mod:`~mlops_nb.pipeline.kernels.server`);
- :mod:`~mlops_nb.pipeline.kernels.logs`: ``kernel.log`` and ``forkserver.log``;
- :mod:`~mlops_nb.pipeline.kernels.specs`: the Jupyter kernel a template names
  (the project's own, :data:`PROJECT_KERNEL`), whether it is installed, and
  whether it runs this interpreter (what decides forking).

Names are imported on first use: the fork server process imports
``mlops_nb.pipeline.kernels.server`` through this package, and must load nothing
but the standard library before it forks (jupyter_client, for one, would do).
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "ESSENTIALS": "mlops_nb.pipeline.kernels.preload",
    "FORK_ENV": "mlops_nb.pipeline.kernels.client",
    "FORK_SERVER_LOG": "mlops_nb.pipeline.kernels.logs",
    "KERNEL_LOG": "mlops_nb.pipeline.kernels.logs",
    "PRELOAD_ENV": "mlops_nb.pipeline.kernels.preload",
    "PROJECT_KERNEL": "mlops_nb.pipeline.kernels.specs",
    "ForkProvisioner": "mlops_nb.pipeline.kernels.provisioner",
    "ForkServer": "mlops_nb.pipeline.kernels.client",
    "KernelPool": "mlops_nb.pipeline.kernels.pool",
    "StageKernel": "mlops_nb.pipeline.kernels.pool",
    "StageKernelClient": "mlops_nb.pipeline.kernels.provisioner",
    "StageKernelManager": "mlops_nb.pipeline.kernels.provisioner",
    "code_imports": "mlops_nb.pipeline.kernels.preload",
    "find_kernel": "mlops_nb.pipeline.kernels.specs",
    "fork_supported": "mlops_nb.pipeline.kernels.client",
    "fork_wanted": "mlops_nb.pipeline.kernels.client",
    "forkable": "mlops_nb.pipeline.kernels.provisioner",
    "install_command": "mlops_nb.pipeline.kernels.specs",
    "interpreter_problem": "mlops_nb.pipeline.kernels.specs",
    "kernel_args": "mlops_nb.pipeline.kernels.provisioner",
    "preload_modules": "mlops_nb.pipeline.kernels.preload",
    "stage_kernel_manager": "mlops_nb.pipeline.kernels.pool",
}

__all__ = [
    "ESSENTIALS",
    "FORK_ENV",
    "FORK_SERVER_LOG",
    "KERNEL_LOG",
    "PRELOAD_ENV",
    "PROJECT_KERNEL",
    "ForkProvisioner",
    "ForkServer",
    "KernelPool",
    "StageKernel",
    "StageKernelClient",
    "StageKernelManager",
    "code_imports",
    "find_kernel",
    "fork_supported",
    "fork_wanted",
    "forkable",
    "install_command",
    "interpreter_problem",
    "kernel_args",
    "preload_modules",
    "stage_kernel_manager",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
