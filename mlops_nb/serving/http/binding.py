"""Where the model server listens: loopback checks and listening sockets.

Binding anything but loopback needs a bearer token, or ``force_insecure=True``
to accept an open server knowingly (:func:`check_bind`).
"""

from __future__ import annotations

import ipaddress
import socket

from mlops_nb.errors import ServingError
from mlops_nb.serving.options import TOKEN_ENV

__all__ = ["check_bind", "is_loopback", "listen", "url_of"]

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, force_insecure: bool) -> None:
    """Refuse a non-loopback ``host`` without a token unless ``force_insecure``.

    Raises:
        ServingError: The server would be reachable from other machines without a token.
    """
    if is_loopback(host) or token is not None or force_insecure:
        return
    raise ServingError(
        f"refusing to serve on {host!r} without a token: anyone who can reach this machine "
        f"could use the model. Set {TOKEN_ENV}=<secret> (clients then send "
        f"'Authorization: Bearer <secret>'), keep the default host 127.0.0.1, or pass "
        f"force_insecure=True (--force-insecure) to serve openly on purpose.",
        host=host,
    )


def _bound(address: str, port: int, family: socket.AddressFamily) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on such sockets, and
    # without it Nagle's algorithm holds each response body back ~40 ms on keep-alive.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((address, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    address = "127.0.0.1" if host.lower().rstrip(".") == "localhost" else host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return _bound(address, port, family)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServingError(
            f"cannot listen on {host}:{port}: {reason}; choose another port (--port) or stop "
            f"the program using it.",
            host=host,
            port=port,
        ) from exc


def url_of(host: str, port: int) -> str:
    host = WILDCARDS.get(host, host)
    return f"http://[{host.strip('[]')}]:{port}" if ":" in host else f"http://{host}:{port}"
