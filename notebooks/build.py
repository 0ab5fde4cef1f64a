"""Build notebooks from their percent-format sources and execute them with outputs.

``python notebooks/build.py [NAME ...]`` turns ``notebooks/src/NAME.py`` (cells split by
``# %%``, Markdown cells by ``# %% [markdown]`` with each line prefixed ``# ``) into
``notebooks/NAME.ipynb``, executed so readers see results. Edit the source, not the
``.ipynb``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent


def parse(source: str) -> nbformat.NotebookNode:
    cells = []
    kind, lines = None, []

    def flush() -> None:
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in text.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif text:
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def build(name: str) -> Path:
    nb = parse((HERE / "src" / f"{name}.py").read_text())
    os.environ.pop("REDIS_URL", None)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    out = HERE / f"{name}.ipynb"
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in (HERE / "src").glob("*.py"))
    for n in names:
        print("built", build(n))
