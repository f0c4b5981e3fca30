"""A corpus of broken and hostile input, one small named builder per case.

Each :class:`Case` writes what it needs into a fresh copy of a project made by
``mlops-nb new`` (and, for the registry cases, with one registered model,
``tiny`` version 1) and returns the ``mlops-nb`` arguments to run there. It
declares what a careful product must answer: the exit code, words of the
message (what, where, the fix), and what the run archive holds afterwards:

* ``none``: refused before a run exists — no run folder at all, and the store
  (every table of the SQLite file, the registry's files) exactly as before;
* ``failed``: the run started and a stage refused the input — one run,
  recorded ``failed``, no stage left ``running``, the registry as before;
* ``succeeded``: the input is odd but valid, and the run goes through.

``tests/reliability/test_corpus.py`` asserts every case; ``bench/corpus.py``
prints them all as a table. Both import :data:`CASES` from here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MODEL = "tiny"
PWNED = "PWNED"
"""The file a hostile model would create if loading it ran its code."""
TIMEOUT_S = 300


@dataclass(frozen=True)
class Project:
    """A project folder of one case, with its outputs (store, runs, registry) inside."""

    root: Path

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    def write(self, name: str, content: str | bytes) -> str:
        """Write ``content`` to ``name`` (relative to the root); return ``name``."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return name

    def spec(self) -> str:
        return (self.root / "pipeline.yaml").read_text()


Builder = Callable[[Project], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input and the answer it must get."""

    name: str
    category: str
    build: Builder
    code: int
    says: tuple[str, ...]
    run: str = "none"
    slow: bool = False
    model: bool = False
    keeps: tuple[str, ...] = ()
    """Project files that must come out byte for byte as they went in."""
    absent: tuple[str, ...] = field(default=(PWNED,))
    """Project files that must not exist afterwards."""


@dataclass(frozen=True)
class Outcome:
    """What running one case gave."""

    root: Path
    args: list[str]
    code: int
    stdout: str
    stderr: str
    runs: list[dict[str, Any]]
    """The run records the command wrote or changed."""
    store_before: dict[str, Any]
    store_after: dict[str, Any]
    kept_before: dict[str, str]
    kept_after: dict[str, str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def first_line(self) -> str:
        """The error line, else (a run that went through) the line saying how it ended."""
        ended = [line for line in self.stdout.splitlines() if line.startswith("succeeded")]
        if self.code == 0 and ended:
            return ended[-1]
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        lines = lines or [line for line in self.stdout.splitlines() if line.strip()]
        starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
        first = starts[0] if starts else 0
        if not lines:
            return ""
        if lines[first].endswith(":") and first + 1 < len(lines):  # a stage failed: its error
            return f"{lines[first]} {lines[first + 1].strip()}"
        return lines[first]


# -- the workspace: one base project (and one with a model), copied per case -----------


class Workspace:
    """Makes each case's project by copying a base project made once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._bases: dict[bool, Path] = {}
        self._count = 0

    def project(self, case: Case) -> Project:
        base = self._base(case.model)
        self._count += 1
        root = self.folder / f"{self._count:03d}-{case.name}" / "project"
        shutil.copytree(base, root, symlinks=True)
        return Project(root)

    def _base(self, model: bool) -> Path:
        if model not in self._bases:
            from mlops_nb.scaffold import new_project

            root = self.folder / ("base-model" if model else "base") / "project"
            new_project(root, git=False)
            if model:
                register_tiny(Project(root))
            self._bases[model] = root
        return self._bases[model]


def register_tiny(project: Project) -> None:
    """Register a small logistic regression on columns ``a``, ``b`` as ``tiny`` v1."""
    from sklearn.linear_model import LogisticRegression

    from mlops_nb.config import Settings
    from mlops_nb.registry import Registry
    from mlops_nb.validation import infer_contract

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    labels = (frame["a"] + frame["b"] > 0).astype(int)
    model = LogisticRegression().fit(frame, labels)
    settings = Settings(root=project.root, outputs=project.outputs)
    with Registry.from_settings(settings) as registry:
        registry.register(
            MODEL,
            model,
            signature=infer_contract(frame),
            task="binary",
            target="y",
            metrics={"roc_auc": 0.9},
            data_version=None,
            pipeline_run=None,
            training_run=None,
        )
    project.write("score.csv", frame.head(5).to_csv(index=False))


def execute(case: Case, workspace: Workspace) -> Outcome:
    """Build ``case`` in a new project and run its command there, as a user would."""
    project = workspace.project(case)
    args = case.build(project)
    store_before, kept_before = store_snapshot(project), file_hashes(project, case.keeps)
    runs_before = run_records(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")}
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    return Outcome(
        root=project.root,
        args=args,
        code=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        runs=[record for record in run_records(project) if record not in runs_before],
        store_before=store_before,
        store_after=store_snapshot(project),
        kept_before=kept_before,
        kept_after=file_hashes(project, case.keeps),
    )


def store_snapshot(project: Project) -> dict[str, Any]:
    """Every table of the store (sorted rows) and the hash of every registry file."""
    tables: dict[str, Any] = {}
    database = project.outputs / "mlops.db"
    if database.exists():
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for name in names:
                rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
                tables[name] = sorted(map(repr, rows))
        conn.close()
    registry = project.outputs / "registry"
    files = {
        str(p.relative_to(registry)): _sha(p) for p in sorted(registry.rglob("*")) if p.is_file()
    }
    return {"tables": tables, "registry": files}


def registry_part(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The registry's tables and files of a store snapshot."""
    tables = {k: v for k, v in snapshot["tables"].items() if k.startswith("registry")}
    return {"tables": tables, "registry": snapshot["registry"]}


def file_hashes(project: Project, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _sha(project.root / name) for name in names}


def run_records(project: Project) -> list[dict[str, Any]]:
    """The run.json of every archived run (and of the development folder)."""
    found = sorted(project.outputs.glob("runs/*/run.json")) + sorted(
        project.outputs.glob("dev/run.json")
    )
    return [json.loads(path.read_text()) for path in found]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "(missing)"


# -- data files -------------------------------------------------------------------------


def ingest(source: str, target: str = "y", *more: str) -> list[str]:
    """``run train --until ingest`` on ``source``."""
    return [
        "run",
        "train",
        "--until",
        "ingest",
        "-p",
        f"data_source={source}",
        "-p",
        f"target={target}",
        *more,
    ]


def validate_only(source: str, target: str = "y", *more: str) -> list[str]:
    return [
        "run",
        "train",
        "--until",
        "validate",
        "-p",
        f"data_source={source}",
        "-p",
        f"target={target}",
        *more,
    ]


def _rows(count: int = 60) -> pd.DataFrame:
    """A small valid table: two numbers and a binary label ``y``."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "a": rng.normal(size=count).round(3),
            "b": rng.integers(0, 9, count),
            "y": [0, 1] * (count // 2),
        }
    )


def latin1_bytes(p: Project) -> list[str]:
    return ingest(p.write("data/latin1.csv", "name,y\ncafé,1\nnaïve,0\n".encode("latin-1")))


def utf8_bom(p: Project) -> list[str]:
    frame = _rows()[["y", "a", "b"]]  # the BOM sits before the target's name
    return ingest(p.write("data/bom.csv", b"\xef\xbb\xbf" + frame.to_csv(index=False).encode()))


def binary_garbage(p: Project) -> list[str]:
    noise = random.Random(7).randbytes(4096)
    return ingest(p.write("data/garbage.csv", b"\x00PK\x03\x04" + noise))


def utf16_text(p: Project) -> list[str]:
    return ingest(p.write("data/utf16.csv", _rows().to_csv(index=False).encode("utf-16")))


def ragged_long_row(p: Project) -> list[str]:
    return ingest(p.write("data/ragged.csv", "a,b,y\n1,2,0\n1,2,3,4\n3,4,1\n"))


def ragged_short_row(p: Project) -> list[str]:
    return ingest(p.write("data/short.csv", "a,b,y\n1,2,0\n1\n3,4,1\n"))


def enormous_line(p: Project) -> list[str]:
    return ingest(p.write("data/oneline.csv", "x" * (9 * 1024 * 1024)))


def enormous_column_name(p: Project) -> list[str]:
    return ingest(p.write("data/longname.csv", "a," + "n" * 200_000 + ",y\n"))


def _parquet(p: Project) -> bytes:
    buffer = io.BytesIO()
    _rows(2000).to_parquet(buffer, index=False)
    return buffer.getvalue()


def truncated_parquet(p: Project) -> list[str]:
    data = _parquet(p)
    return ingest(p.write("data/truncated.parquet", data[: len(data) // 2]))


def corrupt_parquet(p: Project) -> list[str]:
    data = _parquet(p)
    noise = random.Random(3).randbytes(len(data) - 8)
    return ingest(p.write("data/corrupt.parquet", data[:4] + noise + data[-4:]))


def csv_named_parquet(p: Project) -> list[str]:
    return ingest(p.write("data/renamed.parquet", _rows().to_csv(index=False)))


def empty_file(p: Project) -> list[str]:
    return ingest(p.write("data/empty.csv", b""))


def blank_lines_only(p: Project) -> list[str]:
    return ingest(p.write("data/blank.csv", "\n \n\t\n"))


def header_only(p: Project) -> list[str]:
    return ingest(p.write("data/header.csv", "a,b,y\n"))


def header_only_parquet(p: Project) -> list[str]:
    buffer = io.BytesIO()
    _rows().head(0).to_parquet(buffer, index=False)
    return ingest(p.write("data/header.parquet", buffer.getvalue()))


def duplicate_columns(p: Project) -> list[str]:
    return ingest(p.write("data/dup.csv", "amount,b,amount,y\n1,2,3,0\n4,5,6,1\n"))


def duplicate_after_strip(p: Project) -> list[str]:
    return ingest(p.write("data/dupspace.csv", "a, a ,y\n1,2,0\n4,5,1\n"))


def blank_column_name(p: Project) -> list[str]:
    return ingest(p.write("data/blankname.csv", "a,,y\n1,2,0\n4,5,1\n"))


def missing_target(p: Project) -> list[str]:
    return ingest(p.write("data/notarget.csv", _rows().to_csv(index=False)), "Y")


def non_ascii_columns(p: Project) -> list[str]:
    frame = _rows().rename(columns={"a": "größe", "b": "prix €", "y": "résultat"})
    return validate_only(p.write("data/unicode.csv", frame.to_csv(index=False)), "résultat")


def all_null_target(p: Project) -> list[str]:
    frame = _rows().assign(y=np.nan)
    return ingest(p.write("data/nolabels.csv", frame.to_csv(index=False)))


def one_class_only(p: Project) -> list[str]:
    frame = _rows().assign(y=1)
    return ingest(p.write("data/oneclass.csv", frame.to_csv(index=False)))


def inf_and_nan(p: Project) -> list[str]:
    frame = _rows().astype({"a": "float64"})
    frame.loc[3, "a"], frame.loc[4, "a"], frame.loc[5, "b"] = np.inf, np.nan, -1
    text = frame.to_csv(index=False).replace("-1\n", "-inf\n", 1)
    return validate_only(p.write("data/inf.csv", text), "y", "-p", "on_invalid=fail")


def mixed_types(p: Project) -> list[str]:
    frame = _rows().assign(code=[1, "A7", 2.5, None, "x"] * 12)
    return validate_only(p.write("data/mixed.csv", frame.to_csv(index=False)))


def five_thousand_columns(p: Project) -> list[str]:
    rng = np.random.default_rng(5)
    wide = pd.DataFrame(
        rng.integers(0, 100, size=(40, 5000)), columns=[f"c{i}" for i in range(5000)]
    )
    wide["y"] = [0, 1] * 20
    return validate_only(p.write("data/wide.csv", wide.to_csv(index=False)))


# -- database sources ---------------------------------------------------------------------

SHOP = "data/shop.db"


def _shop(p: Project) -> str:
    path = p.root / SHOP
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        _rows().to_sql("customers", conn, index=False)
        conn.execute("CREATE TABLE audit (note TEXT)")
    conn.close()
    return f"sqlite:///{SHOP}"


def injection_in_table(p: Project) -> list[str]:
    return ingest(f"{_shop(p)}?table=customers%3B%20DROP%20TABLE%20audit")


def injection_quoted_table(p: Project) -> list[str]:
    return ingest(f'{_shop(p)}?table=customers"%3B%20DROP%20TABLE%20audit%3B%20--')


def query_that_deletes(p: Project) -> list[str]:
    return ingest(f"{_shop(p)}?query=DELETE%20FROM%20audit")


def query_that_drops(p: Project) -> list[str]:
    return ingest(f"{_shop(p)}?query=DROP%20TABLE%20audit")


def stacked_queries(p: Project) -> list[str]:
    return ingest(f"{_shop(p)}?query=SELECT%20*%20FROM%20customers%3B%20DROP%20TABLE%20audit")


def query_writing_in_a_cte(p: Project) -> list[str]:
    query = "WITH n AS (SELECT 'x' AS note) INSERT INTO audit SELECT note FROM n"
    return ingest(f"{_shop(p)}?query={query.replace(' ', '%20')}")


def unreachable_database(p: Project) -> list[str]:
    return ingest("postgresql://nobody@127.0.0.1:9/nowhere?table=customers")


def missing_sqlite_file(p: Project) -> list[str]:
    return ingest("sqlite:///data/nowhere.db?table=customers")


def unknown_scheme(p: Project) -> list[str]:
    return ingest("gopher://example.org/db?table=customers")


# -- names ---------------------------------------------------------------------------------


def model_name_traversal(p: Project) -> list[str]:
    return ["run", "train", "--until", "ingest", "-p", "model_name=../../etc/evil"]


def model_name_odd_characters(p: Project) -> list[str]:
    return ["run", "train", "--until", "ingest", "-p", "model_name=churn; rm -rf ~"]


def alias_parameter_traversal(p: Project) -> list[str]:
    return ["run", "train", "--until", "ingest", "-p", "champion_alias=../production"]


def _a_run(p: Project) -> None:
    """An archived run (its run.json alone), so a run id is looked up among runs."""
    run_id = "20260101T000000.000000Z-aaaa"
    stages = [{"name": "ingest", "status": "succeeded", "seconds": 1.0, "cached": False}]
    record = {"id": run_id, "pipeline": "train", "status": "succeeded", "seconds": 1.0}
    p.write(f"outputs/runs/{run_id}/run.json", json.dumps({**record, "stages": stages}))


def run_id_traversal(p: Project) -> list[str]:
    _a_run(p)
    return ["runs", "show", "../../../etc/passwd"]


def resume_traversal(p: Project) -> list[str]:
    _a_run(p)
    return ["run", "--resume", "../../outputs"]


def compare_traversal(p: Project) -> list[str]:
    _a_run(p)
    return ["runs", "compare", "../a", "/etc"]


def until_traversal(p: Project) -> list[str]:
    return ["run", "train", "--until", "../../ingest"]


def stage_name_traversal(p: Project) -> list[str]:
    p.write("pipeline.yaml", p.spec().replace("      ingest:\n", "      ../../evil:\n", 1))
    return ["run", "train", "--until", "validate"]


def model_show_traversal(p: Project) -> list[str]:
    return ["models", "show", "../../etc"]


def alias_traversal(p: Project) -> list[str]:
    return ["models", "promote", MODEL, "1", "../../production", "--reason", "test"]


def alias_like_a_version(p: Project) -> list[str]:
    return ["models", "promote", MODEL, "1", "7", "--reason", "test"]


def model_dir_traversal(p: Project) -> list[str]:
    return ["serve", "--model-dir", "../" * 12 + "etc"]


def contract_traversal(p: Project) -> list[str]:
    return validate_only(
        "sample:churn?rows=300", "churned", "-p", "contract=" + "../" * 12 + "etc/passwd"
    )


def contract_missing(p: Project) -> list[str]:
    return validate_only("sample:churn?rows=300", "churned", "-p", "contract=contracts/nope.yaml")


def new_into_non_empty(p: Project) -> list[str]:
    return ["new", str(p.root), "--no-git"]


def new_under_a_file(p: Project) -> list[str]:
    return ["new", "pipeline.yaml/sub", "--no-git"]


def new_traversal_to_proc(p: Project) -> list[str]:
    return ["new", "../" * 12 + "proc/evil", "--no-git"]


# -- pipeline.yaml -------------------------------------------------------------------------


def malformed_yaml(p: Project) -> list[str]:
    p.write("pipeline.yaml", "pipelines:\n  train:\n    stages: [ingest\n  oops: {\n")
    return ["run", "train"]


def tab_indented_yaml(p: Project) -> list[str]:
    p.write(
        "pipeline.yaml", p.spec().replace("    stages:\n      ingest:", "    stages:\n\tingest:", 1)
    )
    return ["run", "train"]


def not_utf8_yaml(p: Project) -> list[str]:
    p.write("pipeline.yaml", ("# café\n" + p.spec()).encode("latin-1", errors="replace"))
    return ["run", "train"]


def top_level_list(p: Project) -> list[str]:
    p.write("pipeline.yaml", "- train\n- monitor\n")
    return ["run"]


def cyclic_stages(p: Project) -> list[str]:
    spec = p.spec().replace(
        "        notebook: templates/01_ingest.ipynb\n",
        "        notebook: templates/01_ingest.ipynb\n        needs: [validate]\n",
        1,
    )
    p.write("pipeline.yaml", spec)
    return ["run", "train"]


def enormous_spec(p: Project) -> list[str]:
    p.write("pipeline.yaml", p.spec() + "# padding\n" * 200_000)
    return ["run", "train"]


def alias_bomb(p: Project) -> list[str]:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = textwrap.indent("\n".join(levels), "          ")
    spec = p.spec().replace(
        "      seed:\n        default: 0\n",
        f"      seed:\n        default: 0\n      budget:\n        default:\n{bomb}\n",
        1,
    )
    p.write("pipeline.yaml", spec)
    return ["params", "train"]


def unknown_top_level_key(p: Project) -> list[str]:
    p.write("pipeline.yaml", p.spec().replace("contracts:\n", "contract:\n", 1))
    return ["run", "train"]


def unknown_stage_key(p: Project) -> list[str]:
    p.write(
        "pipeline.yaml",
        p.spec().replace("        needs: [ingest]\n", "        need: [ingest]\n", 1),
    )
    return ["run", "train"]


def unknown_parameter_key(p: Project) -> list[str]:
    p.write(
        "pipeline.yaml", p.spec().replace("        default: 0.05\n", "        defualt: 0.05\n", 1)
    )
    return ["run", "train"]


def missing_notebook(p: Project) -> list[str]:
    (p.root / "templates" / "02_validate.ipynb").unlink()
    return ["run", "train"]


# -- parameters ----------------------------------------------------------------------------


def _param(*pairs: str) -> Builder:
    def build(p: Project) -> list[str]:
        return ["run", "train", *(arg for pair in pairs for arg in ("-p", pair))]

    return build


def monitor_param(p: Project) -> list[str]:
    return ["run", "monitor", "-p", "prediction_drift_counts=maybe"]


def option_typo(p: Project) -> list[str]:
    return ["run", "train", "--untill", "ingest"]


# -- the registry --------------------------------------------------------------------------


def _package(p: Project) -> Path:
    return p.outputs / "registry" / MODEL / "1"


def _plant(p: Project, model: bytes) -> None:
    """Replace ``tiny`` v1's model file and, as an attacker with the store would, its sha256."""
    folder = _package(p)
    (folder / "model.skops").write_bytes(model)
    digest = hashlib.sha256(model).hexdigest()
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["model"]["sha256"] = digest
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with sqlite3.connect(p.outputs / "mlops.db") as conn:
        conn.execute("UPDATE registry_versions SET sha256 = ?", (digest,))
    conn.close()


def _rewrite(p: Project, change: Callable[[dict[str, Any], dict[str, bytes]], None]) -> bytes:
    """The model file with its schema.json and members changed by ``change``."""
    with zipfile.ZipFile(_package(p) / "model.skops") as original:
        members = {name: original.read(name) for name in original.namelist()}
    schema = json.loads(members["schema.json"])
    change(schema, members)
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as written:
        for name, data in members.items():
            written.writestr(name, data)
    return out.getvalue()


def _predict() -> list[str]:
    return ["predict", f"{MODEL}:1", "score.csv", "scored.csv"]


class _Payload:
    """Pickles to a call of os.system: loading the pickle would create PWNED."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {PWNED}",))


def planted_pickle(p: Project) -> list[str]:
    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        array = next(name for name in members if name.endswith(".npy"))
        buffer = io.BytesIO()
        np.save(buffer, np.array([_Payload()], dtype=object), allow_pickle=True)
        members[array] = buffer.getvalue()

    _plant(p, _rewrite(p, change))
    return _predict()


def planted_exec(p: Project) -> list[str]:
    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        text = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode"}
        code = {**text, "content": json.dumps(f"open('{PWNED}', 'w').write('x')"), "is_json": True}
        arguments = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode"}
        schema["content"]["content"]["C"] = {
            "__class__": "exec",
            "__module__": "builtins",
            "__loader__": "ConstructorFromReduceNode",
            "content": {**arguments, "content": [code]},
        }

    _plant(p, _rewrite(p, change))
    return _predict()


def planted_numpy_function(p: Project) -> list[str]:
    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        schema["content"]["content"]["C"] = {
            "__class__": "runstring",
            "__module__": "numpy.testing._private.utils",
            "__loader__": "FunctionNode",
            "content": {"module_path": "numpy.testing._private.utils", "function": "runstring"},
        }

    _plant(p, _rewrite(p, change))
    return _predict()


def _constructor(module: str, name: str, *arguments: Any) -> dict[str, Any]:
    """A schema node calling ``module.name(*arguments)`` (JSON values) when the file is loaded."""
    args = [
        {
            "__class__": type(value).__name__,
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(value),
            "is_json": True,
        }
        for value in arguments
    ]
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": args,
        },
    }


def planted_reexport(p: Project) -> list[str]:
    """``subprocess.Popen`` under the name of a NumPy module that imports it."""

    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        argv = ["sh", "-c", f"touch {PWNED}"]
        schema["content"]["content"]["C"] = _constructor(
            "numpy.distutils.fcompiler.gnu", "Popen", argv
        )

    _plant(p, _rewrite(p, change))
    return _predict()


def planted_main_module(p: Project) -> list[str]:
    """A type of ``mlops_nb.__main__``: importing it would run (and exit) the command line."""

    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        schema["content"]["content"]["C"] = _constructor("mlops_nb.__main__", "main")

    _plant(p, _rewrite(p, change))
    return _predict()


def missing_package(p: Project) -> list[str]:
    def change(schema: dict[str, Any], members: dict[str, bytes]) -> None:
        schema["__module__"] = "sklearn.linear_model._future_logistic"  # a newer scikit-learn

    _plant(p, _rewrite(p, change))
    return _predict()


def damaged_zip(p: Project) -> list[str]:
    _plant(p, b"PK\x03\x04" + random.Random(11).randbytes(512))
    return _predict()


def tampered_model(p: Project) -> list[str]:
    path = _package(p) / "model.skops"
    path.write_bytes(path.read_bytes() + b"\x00tampered")
    return _predict()


def missing_model_file(p: Project) -> list[str]:
    (_package(p) / "model.skops").unlink()
    return _predict()


def unknown_model(p: Project) -> list[str]:
    return ["predict", "tinny:1", "score.csv", "scored.csv"]


# -- the corpus ----------------------------------------------------------------------------

_STAGE_FAILED = "stage 'ingest' failed"

CASES: tuple[Case, ...] = (
    # data files
    Case("latin1_bytes", "data", latin1_bytes, 2, ("latin1.csv", "not UTF-8", "line 2", "Re-save")),
    Case("utf8_bom", "data", utf8_bom, 0, ("succeeded",), run="succeeded"),
    Case("binary_garbage", "data", binary_garbage, 2, ("garbage.csv", "NUL bytes", "Export it")),
    Case("utf16_text", "data", utf16_text, 2, ("utf16.csv", "UTF-16", "UTF-8 CSV")),
    Case(
        "ragged_long_row",
        "data",
        ragged_long_row,
        2,
        ("ragged.csv", "line 3", "4 fields", "fix or remove"),
    ),
    Case(
        "ragged_short_row",
        "data",
        ragged_short_row,
        2,
        ("short.csv", "line 3", "fewer", "fix or remove"),
    ),
    Case(
        "enormous_line",
        "data",
        enormous_line,
        2,
        ("oneline.csv", "longer than 8 MiB", "check that"),
    ),
    Case(
        "enormous_column_name",
        "data",
        enormous_column_name,
        2,
        ("longname.csv", "(200,000 characters)", "no rows"),
    ),
    Case(
        "truncated_parquet",
        "data",
        truncated_parquet,
        2,
        ("truncated.parquet", "truncated or corrupt", "write it again"),
    ),
    Case(
        "corrupt_parquet",
        "data",
        corrupt_parquet,
        2,
        ("corrupt.parquet", "cannot be read as Parquet", "write it again"),
    ),
    Case("csv_named_parquet", "data", csv_named_parquet, 2, ("renamed.parquet", "is not Parquet")),
    Case("empty_file", "data", empty_file, 2, ("empty.csv", "is empty", "export")),
    Case("blank_lines_only", "data", blank_lines_only, 2, ("blank.csv", "is empty", "no header")),
    Case("header_only", "data", header_only, 2, ("header.csv", "no rows", "a, b, y")),
    Case("header_only_parquet", "data", header_only_parquet, 2, ("header.parquet", "no rows")),
    Case(
        "duplicate_columns",
        "data",
        duplicate_columns,
        2,
        ("dup.csv", "duplicate column names: amount", "Rename"),
    ),
    Case(
        "duplicate_after_strip",
        "data",
        duplicate_after_strip,
        2,
        ("dupspace.csv", "duplicate column names: a", "Rename"),
    ),
    Case(
        "blank_column_name",
        "data",
        blank_column_name,
        2,
        ("blankname.csv", "column 2 of 3 has no name", "Name every column"),
    ),
    Case(
        "missing_target",
        "data",
        missing_target,
        2,
        ("target column 'Y'", "Did you mean 'y'", "-p target="),
    ),
    Case(
        "non_ascii_columns",
        "data",
        non_ascii_columns,
        0,
        ("succeeded",),
        run="succeeded",
        slow=True,
    ),
    Case(
        "all_null_target",
        "data",
        all_null_target,
        1,
        (_STAGE_FAILED, "target column 'y'", "no values", "-p target="),
        run="failed",
    ),
    Case(
        "one_class_only",
        "data",
        one_class_only,
        1,
        (_STAGE_FAILED, "holds one value only", "at least two classes"),
        run="failed",
    ),
    Case(
        "inf_and_nan",
        "data",
        inf_and_nan,
        1,
        ("stage 'validate' failed", "finite", "inf", "on_invalid=quarantine"),
        run="failed",
    ),
    Case("mixed_types", "data", mixed_types, 0, ("succeeded",), run="succeeded", slow=True),
    Case(
        "five_thousand_columns",
        "data",
        five_thousand_columns,
        0,
        ("succeeded",),
        run="succeeded",
        slow=True,
    ),
    # database sources
    Case(
        "injection_in_table",
        "source",
        injection_in_table,
        2,
        ("table 'customers; DROP TABLE audit' not found", "Tables present: audit, customers"),
        keeps=(SHOP,),
    ),
    Case(
        "injection_quoted_table",
        "source",
        injection_quoted_table,
        2,
        ("not found", "Tables present"),
        keeps=(SHOP,),
    ),
    Case(
        "query_that_deletes",
        "source",
        query_that_deletes,
        2,
        ("must be one SELECT", "'DELETE'", "only reads"),
        keeps=(SHOP,),
    ),
    Case(
        "query_that_drops",
        "source",
        query_that_drops,
        2,
        ("must be one SELECT", "'DROP'"),
        keeps=(SHOP,),
    ),
    Case(
        "stacked_queries",
        "source",
        stacked_queries,
        2,
        ("several statements", "only reads"),
        keeps=(SHOP,),
    ),
    Case(
        "query_writing_in_a_cte",
        "source",
        query_writing_in_a_cte,
        1,
        (_STAGE_FAILED, "readonly database"),
        run="failed",
        keeps=(SHOP,),
    ),
    Case(
        "unreachable_database",
        "source",
        unreachable_database,
        2,
        ("cannot connect to the database", "127.0.0.1", "running and reachable"),
    ),
    Case(
        "missing_sqlite_file",
        "source",
        missing_sqlite_file,
        2,
        ("nowhere.db", "not found", "Check the path"),
    ),
    Case(
        "unknown_scheme",
        "source",
        unknown_scheme,
        2,
        ("unknown scheme 'gopher://'", "accepted forms"),
    ),
    # names
    Case(
        "model_name_traversal",
        "names",
        model_name_traversal,
        2,
        ("parameter 'model_name'", "'../../etc/evil' is not allowed", "letters, digits"),
    ),
    Case(
        "model_name_odd_characters",
        "names",
        model_name_odd_characters,
        2,
        ("parameter 'model_name'", "not allowed"),
    ),
    Case(
        "alias_parameter_traversal",
        "names",
        alias_parameter_traversal,
        2,
        ("parameter 'champion_alias'", "'../production' is not allowed"),
    ),
    Case("run_id_traversal", "names", run_id_traversal, 2, ("'../../../etc/passwd'", "runs list")),
    Case("resume_traversal", "names", resume_traversal, 2, ("'../../outputs'", "runs list")),
    Case("compare_traversal", "names", compare_traversal, 2, ("'../a'", "runs list")),
    Case(
        "until_traversal",
        "names",
        until_traversal,
        2,
        ("no stage '../../ingest'", "its stages are"),
    ),
    Case(
        "stage_name_traversal",
        "names",
        stage_name_traversal,
        2,
        ("stage name '../../evil' is not allowed", "letters, digits"),
    ),
    Case(
        "model_show_traversal",
        "names",
        model_show_traversal,
        2,
        ("model name '../../etc' is not allowed", "letters, digits"),
    ),
    Case(
        "alias_traversal",
        "names",
        alias_traversal,
        2,
        ("alias '../../production' is not allowed",),
        model=True,
    ),
    Case(
        "alias_like_a_version",
        "names",
        alias_like_a_version,
        2,
        ("alias '7'", "version reference", "production"),
    ),
    Case(
        "model_dir_traversal",
        "names",
        model_dir_traversal,
        2,
        ("/etc", "neither a bundle", "point at"),
    ),
    Case("contract_traversal", "names", contract_traversal, 2, ("parameter 'contract'", "passwd")),
    Case(
        "contract_missing",
        "names",
        contract_missing,
        2,
        ("parameter 'contract'", "contracts/nope.yaml does not exist"),
    ),
    Case(
        "new_into_non_empty",
        "names",
        new_into_non_empty,
        2,
        ("already exists and is not empty", "choose a new folder"),
    ),
    Case(
        "new_under_a_file",
        "names",
        new_under_a_file,
        2,
        ("pipeline.yaml is a file, not a folder", "choose a folder"),
    ),
    Case(
        "new_traversal_to_proc",
        "names",
        new_traversal_to_proc,
        2,
        ("cannot create the project folder /proc/evil", "choose a folder"),
    ),
    # pipeline.yaml
    Case(
        "malformed_yaml",
        "pipeline.yaml",
        malformed_yaml,
        2,
        ("pipeline.yaml is not valid YAML at line", "Fix that line"),
    ),
    Case(
        "tab_indented_yaml",
        "pipeline.yaml",
        tab_indented_yaml,
        2,
        ("not valid YAML at line", "indent with spaces"),
    ),
    Case("not_utf8_yaml", "pipeline.yaml", not_utf8_yaml, 2, ("pipeline.yaml", "UTF-8")),
    Case(
        "top_level_list", "pipeline.yaml", top_level_list, 2, ("pipeline.yaml must hold a mapping",)
    ),
    Case(
        "cyclic_stages",
        "pipeline.yaml",
        cyclic_stages,
        2,
        ("cycle", "ingest -> validate -> ingest"),
    ),
    Case(
        "enormous_spec",
        "pipeline.yaml",
        enormous_spec,
        2,
        ("more than a pipeline file may be", "right file"),
    ),
    Case("alias_bomb", "pipeline.yaml", alias_bomb, 2, ("pipeline.yaml", "aliases", "values")),
    Case(
        "unknown_top_level_key",
        "pipeline.yaml",
        unknown_top_level_key,
        2,
        ("unknown top-level keys ['contract']", "did you mean 'contracts'"),
    ),
    Case(
        "unknown_stage_key",
        "pipeline.yaml",
        unknown_stage_key,
        2,
        ("stage 'validate' has unknown keys ['need']", "allowed"),
    ),
    Case(
        "unknown_parameter_key",
        "pipeline.yaml",
        unknown_parameter_key,
        2,
        ("parameter 'max_invalid_fraction' has unknown keys ['defualt']", "allowed"),
    ),
    Case(
        "missing_notebook",
        "pipeline.yaml",
        missing_notebook,
        2,
        ("notebook templates/02_validate.ipynb does not exist",),
    ),
    # parameters
    Case(
        "wrong_type",
        "params",
        _param("budget=abc"),
        2,
        ("parameter 'budget'", "'abc' is not a valid int", "-p budget=3"),
    ),
    Case("float_for_int", "params", _param("seed=1.5"), 2, ("parameter 'seed'", "not a valid int")),
    Case(
        "below_minimum",
        "params",
        _param("budget=0"),
        2,
        ("parameter 'budget'", "below the minimum 1"),
    ),
    Case(
        "above_maximum",
        "params",
        _param("max_invalid_fraction=1.5"),
        2,
        ("parameter 'max_invalid_fraction'", "above the maximum 1"),
    ),
    Case(
        "not_a_choice",
        "params",
        _param("task=cat"),
        2,
        ("parameter 'task'", "not one of: auto, binary"),
    ),
    Case(
        "nan_float", "params", _param("margin=nan"), 2, ("parameter 'margin'", "NaN is not allowed")
    ),
    Case(
        "infinite_float", "params", _param("margin=inf"), 2, ("parameter 'margin'", "finite number")
    ),
    Case(
        "not_true_or_false",
        "params",
        monitor_param,
        2,
        ("parameter 'prediction_drift_counts'", "true or false"),
    ),
    Case(
        "unknown_parameter",
        "params",
        _param("nope=1"),
        2,
        ("unknown parameter 'nope'", "valid parameters: "),
    ),
    Case(
        "parameter_typo",
        "params",
        _param("budgett=3"),
        2,
        ("unknown parameter 'budgett'", "did you mean 'budget'"),
    ),
    Case(
        "not_name_value", "params", _param("budget"), 2, ("-p 'budget' is not NAME=VALUE", "seed=3")
    ),
    Case(
        "option_typo",
        "params",
        option_typo,
        2,
        ("no option --untill", "did you mean --until", "--help"),
    ),
    # the registry
    Case(
        "planted_pickle",
        "registry",
        planted_pickle,
        2,
        ("model.skops", "not a readable skops file", "pickle"),
        model=True,
    ),
    Case("planted_exec", "registry", planted_exec, 2, ("builtins.exec", "not trusted"), model=True),
    Case(
        "planted_numpy_function",
        "registry",
        planted_numpy_function,
        2,
        ("runstring", "not trusted"),
        model=True,
    ),
    Case(
        "planted_reexport",
        "registry",
        planted_reexport,
        2,
        ("numpy.distutils.fcompiler.gnu.Popen", "not trusted"),
        model=True,
    ),
    Case(
        "planted_main_module",
        "registry",
        planted_main_module,
        2,
        ("mlops_nb.__main__.main", "not trusted"),
        model=True,
    ),
    Case(
        "missing_package",
        "registry",
        missing_package,
        2,
        ("sklearn.linear_model._future_logistic", "does not have", "install"),
        model=True,
    ),
    Case(
        "damaged_zip",
        "registry",
        damaged_zip,
        2,
        ("model.skops", "not a readable skops file"),
        model=True,
    ),
    Case(
        "tampered_model",
        "registry",
        tampered_model,
        2,
        ("checksum mismatch", "model.skops", "register the model again"),
        model=True,
    ),
    Case(
        "missing_model_file",
        "registry",
        missing_model_file,
        2,
        ("model.skops is missing", "restore"),
        model=True,
    ),
    Case(
        "unknown_model", "registry", unknown_model, 2, ("tinny", "Did you mean 'tiny'"), model=True
    ),
)
