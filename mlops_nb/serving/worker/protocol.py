"""The messages between the server and its model worker: length-prefixed JSON over pipes.

Each message is 4 bytes of length (big-endian), then JSON::

    -> {"values": {column: [value or null, ...]}, "rows": n}
    <- {"predictions": [...], "probabilities": [[...], ...] | null}  or  {"error": "..."}

The worker's first message is ``{"ready": true, "ref": ...}`` or
``{"ready": false, "error": ...}``. Never pickle: a message carries values only.
"""

from __future__ import annotations

import json
import struct
from typing import IO, Any

__all__ = ["HEADER", "WORKER_MODULE", "read_message", "write_message"]

HEADER = struct.Struct(">I")
WORKER_MODULE = "mlops_nb.serving.worker"
"""What ``python -m`` runs as the worker (the package's ``__main__``)."""


def write_message(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON message and flush."""
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """Read one message, or None at the end of the stream."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    size = HEADER.unpack(head)[0]
    body = stream.read(size)
    if len(body) < size:
        return None
    message: dict[str, Any] = json.loads(body)
    return message
