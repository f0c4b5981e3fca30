"""The model worker program, started by :class:`~mlops_nb.serving.worker.process.ModelProcess`.

``python -m mlops_nb.serving.worker --root R --outputs O --model NAME:VERSION``
(a registered version) or ``... --bundle PATH`` (a deployment bundle).

It loads the model through the registry's (or the bundle's) verified loading,
says it is ready, then scores every message read on stdin and writes the
answer on stdout (the messages are described in ``protocol``). It ends at the
end of its input; Ctrl+C is left to the server, which stops it by closing that
input. Only the package's ``__main__`` imports this module, to run it.

Nothing here may import the web stack (fastapi, starlette, uvicorn): the worker
would start slower and hold that memory for nothing. ``tests/serving/test_worker.py``
checks it.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from mlops_nb.config import ARTIFACTS_ENV, STORE_ENV, Settings
from mlops_nb.registry import LoadedModel, Registry
from mlops_nb.serving.bundle.load import load_bundle
from mlops_nb.serving.scoring import Scorer
from mlops_nb.serving.worker.protocol import WORKER_MODULE, read_message, write_message
from mlops_nb.validation.fast import Checked, example_record

__all__ = ["example_values", "main"]

logger = logging.getLogger("mlops_nb.serving.worker")  # not __name__: kept from before the split


def _answer(scorer: Scorer, message: dict[str, Any]) -> dict[str, Any]:
    try:
        scores = scorer.score_checked(Checked(message["values"], int(message["rows"]), []))
    except Exception as exc:  # reported to the server, which answers 500 and logs it
        logger.exception("scoring failed in the model worker")
        return {"error": f"{type(exc).__name__}: {exc}"}
    probs = None if scores.probabilities is None else scores.probabilities.tolist()
    return {"predictions": scores.predictions.tolist(), "probabilities": probs}


def example_values(scorer: Scorer) -> dict[str, list[Any]]:
    """One row made of the signature's example record, for warming up."""
    record = example_record(scorer.loaded.signature) or {}
    return {name: [record.get(name)] for name in scorer.checker.names}


def _load(args: argparse.Namespace) -> LoadedModel:
    if args.bundle:
        return load_bundle(args.bundle)
    settings = Settings(
        Path(args.root),
        Path(args.outputs),
        store=os.environ.get(STORE_ENV) or None,  # set by the server, not on the command line
        artifacts=os.environ.get(ARTIFACTS_ENV) or None,
    )
    with Registry.from_settings(settings) as registry:
        return registry.load(args.model)


def main(argv: list[str] | None = None) -> int:
    """Load the model, then answer requests until the end of stdin."""
    parser = argparse.ArgumentParser(prog=f"python -m {WORKER_MODULE}")
    parser.add_argument("--bundle")
    parser.add_argument("--root")
    parser.add_argument("--outputs")
    parser.add_argument("--model")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the protocol
    try:
        scorer = Scorer(_load(args))
    except Exception as exc:
        write_message(replies, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    try:  # warm up: the first call of a pipeline is slower
        scorer.score_checked(Checked(example_values(scorer), 1, []))
    except Exception:  # an example that does not suit the model: no warm-up, no harm
        logger.debug("warm-up failed", exc_info=True)
    gc.collect()
    gc.freeze()  # the model's objects stay put: garbage collection no longer scans them
    write_message(replies, {"ready": True, "ref": scorer.loaded.version.ref})
    while (message := read_message(sys.stdin.buffer)) is not None:
        write_message(replies, _answer(scorer, message))
    return 0
