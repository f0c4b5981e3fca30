"""Reading template notebooks without running them: parameters and code."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_nb.errors import PipelineSpecError
from mlops_nb.pipeline.params import ParamSpec, type_of_default

PARAMETERS_TAG = "parameters"
STAGE_DIR_PARAM = "stage_dir"


@dataclass(frozen=True)
class Template:
    """What a template notebook declares: its parameters, its code and its kernel.

    ``kernel`` is the Jupyter kernel its metadata names (``kernelspec.name``), None
    when it names none.
    """

    path: Path
    params: dict[str, ParamSpec]
    code_cells: tuple[str, ...]
    kernel: str | None = None

    def code_hash(self) -> str:
        """sha256 of the code cells only (outputs and metadata do not count)."""
        digest = hashlib.sha256()
        for source in self.code_cells:
            digest.update(source.encode())
            digest.update(b"\0")
        return digest.hexdigest()


def read_notebook(path: Path) -> dict[str, Any]:
    """Read a notebook file as JSON (nbformat 4), translating errors.

    Plain JSON, not nbformat: importing nbformat costs a second (its schema
    validator), which a fully cached run must not pay.
    """
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PipelineSpecError(f"notebook {path} does not exist", path=path) from exc
    except (OSError, ValueError) as exc:
        raise PipelineSpecError(
            f"notebook {path} cannot be read ({type(exc).__name__}: {exc}); "
            "is it a valid .ipynb file?",
            path=path,
        ) from exc
    if (
        not isinstance(notebook, dict)
        or notebook.get("nbformat") != 4
        or not isinstance(notebook.get("cells"), list)
        or not all(isinstance(cell, dict) for cell in notebook["cells"])
    ):
        raise PipelineSpecError(
            f"notebook {path} is not a version 4 notebook with a list of cells; open and save "
            f"it in JupyterLab",
            path=path,
        )
    return notebook


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (the file may store a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def inspect_template(path: Path) -> Template:
    """Read ``path`` and return its parameters cell's names, defaults and help.

    Raises :class:`PipelineSpecError` when the notebook has no code cell tagged
    ``parameters``, more than one, or one that is not plain assignments.
    """
    notebook = read_notebook(path)
    cells = notebook["cells"]
    tagged = [cell for cell in cells if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1 or tagged[0].get("cell_type") != "code":
        found = "none" if not tagged else f"{len(tagged)}"
        raise PipelineSpecError(
            f"template {path} needs exactly one code cell tagged '{PARAMETERS_TAG}' "
            f"(found {found}); in JupyterLab open the property inspector (gear icon) and "
            f"add the tag to the cell holding the parameter defaults",
            path=path,
        )
    params = _parse_parameters(cell_source(tagged[0]), path)
    code = tuple(cell_source(cell) for cell in cells if cell.get("cell_type") == "code")
    return Template(path=path, params=params, code_cells=code, kernel=_kernel_name(notebook))


def _kernel_name(notebook: dict[str, Any]) -> str | None:
    """The kernel a notebook's metadata names (``kernelspec.name``), None if none."""
    metadata = notebook.get("metadata")
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def _parse_parameters(source: str, path: Path) -> dict[str, ParamSpec]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise PipelineSpecError(
            f"the parameters cell of {path} is not valid Python (line {exc.lineno}: {exc.msg})",
            path=path,
        ) from exc
    comments = _line_comments(source)
    params: dict[str, ParamSpec] = {}
    for node in tree.body:
        name, value = _assignment(node, path)
        params[name] = ParamSpec(
            name=name,
            type=type_of_default(value),
            default=value,
            help=comments.get(node.lineno, ""),
        )
    return params


def _assignment(node: ast.stmt, path: Path) -> tuple[str, Any]:
    target = None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value_node = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value_node = node.target, node.value
    if not isinstance(target, ast.Name):
        raise PipelineSpecError(
            f"the parameters cell of {path} may hold only `name = literal` lines "
            f"(line {node.lineno} is something else)",
            path=path,
        )
    try:
        value = ast.literal_eval(value_node)
    except ValueError as exc:
        raise PipelineSpecError(
            f"the parameters cell of {path}: '{target.id}' must default to a literal "
            f"(number, text, True/False, None, list or dict), line {node.lineno}",
            path=path,
        ) from exc
    return target.id, value


def _line_comments(source: str) -> dict[int, str]:
    """Trailing ``# comments`` by line number (the parameter's help text)."""
    comments = {}
    lines = source.splitlines()
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            if lines[row - 1][:col].strip():
                comments[row] = token.string.lstrip("#").strip()
    return comments
