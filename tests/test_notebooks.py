"""Every notebook in notebooks/ runs top to bottom on the embedded Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("REDIS_URL", raising=False)  # notebooks use the embedded server
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()


SOURCES = sorted((NOTEBOOKS[0].parent / "src").glob("*.py"))


def _build_module() -> object:
    import importlib.util

    pytest.importorskip("nbclient")
    spec = importlib.util.spec_from_file_location(
        "notebook_build", NOTEBOOKS[0].parent / "build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_a_source_and_every_source_a_notebook() -> None:
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_is_what_its_source_builds(source: Path) -> None:
    # an edit made in the .ipynb alone is lost at the next `python notebooks/build.py`
    nbformat = pytest.importorskip("nbformat")
    built = _build_module().parse(source.read_text())  # type: ignore[attr-defined]
    notebook = nbformat.read(source.parent.parent / f"{source.stem}.ipynb", as_version=4)
    got = [(c.cell_type, c.source) for c in notebook.cells]
    want = [(c.cell_type, c.source) for c in built.cells]
    assert got == want, (
        f"notebooks/{source.stem}.ipynb differs from what notebooks/src/{source.stem}.py "
        f"builds: edit the source, then run `python notebooks/build.py {source.stem}`"
    )
