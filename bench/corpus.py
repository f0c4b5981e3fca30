"""Print the hostile-input corpus as a table: case, command, exit code, first line of the message.

Run from the repository root::

    .venv/bin/python bench/corpus.py             # every case (about two minutes)
    .venv/bin/python bench/corpus.py --markdown  # the same, as a Markdown table
    .venv/bin/python bench/corpus.py -k parquet  # the cases whose name holds "parquet"

The cases are those of ``tests/reliability/test_corpus.py``, imported from
``tests/reliability/corpus_cases.py``, so the table and the test never drift.
A row whose exit code is not the expected one is marked ``!`` (the test would
fail there); the exit status is the number of such rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.corpus_cases import CASES, Case, Outcome, Workspace, execute  # noqa: E402

MESSAGE_CHARS = 170


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    options = parser.parse_args()
    cases = [case for case in CASES if options.k in case.name]
    wrong = 0
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="mlops-nb-corpus-") as folder:
        workspace = Workspace(Path(folder))
        for case in cases:
            outcome = execute(case, workspace)
            mark = "" if outcome.code == case.code else "!"
            wrong += bool(mark)
            rows.append(_row(case, outcome, mark))
            if not options.markdown:
                print(" | ".join(rows[-1]), flush=True)
    if options.markdown:
        print("| case | category | command | exit | first line of the message |")
        print("|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    counts = Counter(case.category for case in cases)
    print(f"\n{len(cases)} cases: " + ", ".join(f"{n} {c}" for c, n in counts.items()))
    print(f"{wrong} with an unexpected exit code")
    return wrong


def _row(case: Case, outcome: Outcome, mark: str) -> tuple[str, ...]:
    command = "mlops-nb " + " ".join(_short(arg) for arg in outcome.args)
    message = outcome.first_line.replace(str(outcome.root) + "/", "").replace(
        str(outcome.root), "."
    )
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 1] + "…"
    return (case.name, case.category, command, f"{outcome.code}{mark}", message)


def _short(arg: str) -> str:
    return arg if len(arg) <= 60 else arg[:57] + "..."


if __name__ == "__main__":
    sys.exit(main())
