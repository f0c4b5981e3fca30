"""How one stage kernel is launched and talked to: jupyter_client classes of our own.

:class:`StageKernelManager` is the kernel manager papermill is given for a stage.
Its kernel writes its stderr to the stage's ``kernel.log`` (and, when forked, its
stdout too). With a fork server, the manager's provisioner is a
:class:`ForkProvisioner`, which asks the server to fork the kernel instead of
starting a new interpreter; a kernel the server cannot fork (another kernel, another
Python, a server that is gone) is launched the ordinary way, and the reason noted
in ``kernel.log``. :class:`StageKernelClient` is ready as soon as the kernel answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Type

from mlops_nb.errors import ForkServerError
from mlops_nb.pipeline.kernels.client import ForkServer
from mlops_nb.pipeline.kernels.logs import note
from mlops_nb.pipeline.kernels.specs import interpreter_problem, kernel_args


class StageKernelClient(AsyncKernelClient):
    """The client papermill gets: ready as soon as the kernel answers.

    jupyter_client's own ``wait_for_ready`` ends by waiting for 0.2 s of silence on
    IOPub; here a short lull is enough. The notebook client ignores any later
    message that does not answer one of its own requests.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        # the answer to any request sent counts: a kernel slower than the 1 s wait below
        # answers the previous request while this one waits, and matching only the
        # latest never succeeded (a kernel starting in 2 s on a cold disk timed out)
        requests: set[str] = set()
        while True:
            requests.add(self.kernel_info())
            reply = await _next_message(self.shell_channel, 1.0)
            if (
                reply is not None
                and reply["msg_type"] == "kernel_info_reply"
                and reply["parent_header"].get("msg_id") in requests
                # a message on IOPub too: its subscription is connected
                and await _next_message(self.iopub_channel, 0.2) is not None
            ):
                self._handle_kernel_info_reply(reply)
                break
            # RuntimeError with jupyter_client's own words, as its wait_for_ready raises:
            # the stage's failure message names the class and quotes the text
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while await _next_message(self.iopub_channel, 0.02) is not None:
            pass  # the kernel_info request's busy/idle statuses


async def _next_message(channel: Any, timeout: float) -> dict[str, Any] | None:
    """The next message on ``channel`` within ``timeout`` seconds, or None."""
    try:
        message: dict[str, Any] = await channel.get_msg(timeout=timeout)
    except Empty:
        return None
    return message


class StageKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel writes its stderr to a file.

    With a ``fork_server``, its kernel is forked from that server (see
    :class:`ForkProvisioner`) when the kernel is the default IPython kernel of this
    interpreter.
    """

    client_factory = Type(klass=AsyncKernelClient, default_value=StageKernelClient)
    log_path: Path | None = None
    fork_server: ForkServer | None = None
    server_timeout: float = 120.0
    environment: dict[str, str] | None = None
    """Variables set for the kernel on top of this process's (a stage's project and stores)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clients: list[AsyncKernelClient] = []

    def client(self, **kwargs: Any) -> AsyncKernelClient:  # type: ignore[override]
        """A client of the kernel; kept, so the stage can close it when it ends."""
        client = super().client(**kwargs)
        self.clients.append(client)
        return client

    async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
        if self.environment:
            kwargs["env"] = {**os.environ, **(kwargs.get("env") or {}), **self.environment}
        if self.fork_server is not None and self.provisioner is None:
            self.kernel_id = self.kernel_id or kwargs.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ForkProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        if self.log_path is not None:
            handle = self.log_path.open("ab")
            kwargs.setdefault("stderr", handle)
            try:
                await super().start_kernel(**kwargs)
            finally:
                handle.close()  # the child keeps its own descriptor
            return
        await super().start_kernel(**kwargs)

    @property
    def forked(self) -> bool:
        """Whether the current kernel was forked from the fork server."""
        return isinstance(self.provisioner, ForkProvisioner) and self.provisioner.forked


class ForkProvisioner(LocalProvisioner):
    """Launches the kernel by asking the fork server to fork it.

    The forked kernel is the server's child, not the runner's: its liveness and
    exit status come from the server, and signals are sent by the server, which
    only signals children it has not reaped (so a reused pid is never hit). A
    kernel the server cannot start, or that is not the default IPython kernel of
    this interpreter, is launched the ordinary way (``LocalProvisioner``).
    """

    forked_pid: int | None = None
    exit_status: int | None = None
    fallback_reason: str | None = None
    server: ForkServer | None = None

    @property
    def forked(self) -> bool:
        return self.server is not None and (self.forked_pid is not None or self.pid is not None)

    @property
    def has_process(self) -> bool:
        return self.forked_pid is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        km = self.parent
        server: ForkServer | None = getattr(km, "fork_server", None)
        log_path: Path | None = getattr(km, "log_path", None)
        reason = forkable(cmd) if server is not None else "no fork server"
        if server is not None and reason is None:
            try:
                server.wait_ready(getattr(km, "server_timeout", 120.0))
                cwd = kwargs.get("cwd") or os.getcwd()
                pid = server.spawn(kernel_args(cmd), cwd=cwd, env=kwargs["env"], log_path=log_path)
            except ForkServerError as exc:
                reason = str(exc)
            else:
                self.server = server
                self.forked_pid = self.pid = self.pgid = pid
                self.exit_status = None
                self.cwd = cwd
                return self.connection_info
        self.fallback_reason = reason
        if server is not None:
            note(log_path, f"starting an ordinary kernel instead of a forked one: {reason}")
        return await super().launch_kernel(cmd, **kwargs)

    async def poll(self) -> int | None:
        if self.forked_pid is None:
            return await super().poll()
        if self.exit_status is None:
            self.exit_status = self.forked_status(self.forked_pid)
        return self.exit_status

    def forked_status(self, pid: int) -> int | None:
        """The exit status of the forked kernel ``pid``, None while it runs."""
        assert self.server is not None
        try:
            return self.server.poll(pid)
        except ForkServerError:
            # the server is gone and its kernels with it (they poll their parent);
            # the exit status went to whoever reaped them
            return None if self.server.orphan_alive(pid) else 1

    async def wait(self) -> int | None:
        if self.forked_pid is None:
            return await super().wait()
        while (status := await self.poll()) is None:
            await asyncio.sleep(0.02)
        assert self.server is not None
        self.server.forget(self.forked_pid)
        self.forked_pid = None  # has_process is now False
        return status

    async def send_signal(self, signum: int) -> None:
        if self.forked_pid is None:
            await super().send_signal(signum)
            return
        signal_forked(self.server, self.forked_pid, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.forked_pid is None:
            await super().kill(restart)
            return
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self.forked_pid is None:
            await super().terminate(restart)
            return
        await self.send_signal(signal.SIGTERM)


def signal_forked(server: ForkServer | None, pid: int, signum: int) -> None:
    """Signal a forked kernel through its server, or directly if the server is gone."""
    if server is None:
        return
    try:
        server.send_signal(pid, signum)
    except ForkServerError:
        server.kill_orphan(pid, signum)


def forkable(cmd: Sequence[str]) -> str | None:
    """Why ``cmd`` cannot be forked from the fork server, or None if it can.

    Only ``python -m ipykernel_launcher ...`` of this very interpreter, in this
    environment, can: the server has imported this environment's ipykernel (see
    :func:`~mlops_nb.pipeline.kernels.specs.interpreter_problem`).
    """
    return interpreter_problem(cmd)


__all__ = [
    "ForkProvisioner",
    "StageKernelClient",
    "StageKernelManager",
    "forkable",
    "kernel_args",
    "signal_forked",
]
