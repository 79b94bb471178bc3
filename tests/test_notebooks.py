"""The notebooks (notebooks/) run top to bottom on the demo data, so they cannot rot.

Each is executed with nbclient in a Jupyter kernel of this Python, with its
``parameters`` cell made smaller (fewer regions, shuffles, methods) so the
suite stays fast; the figures and tables they produce are checked.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec named like the notebooks' that runs this interpreter, first on JUPYTER_PATH.

    Whatever kernels the machine has, the notebooks then run in the Python
    that runs the tests (the project's environment).
    """
    spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "seqlift tests", "language": "python"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(spec_dir.parent.parent))
        yield KERNEL


def _run(name: str, parameters: str, kernel: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\n# set by the test suite\n" + parameters
    client = nbclient.NotebookClient(notebook, kernel_name=kernel, timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def _text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for output in _outputs(notebook):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(notebook))


@pytest.mark.parametrize("name", ["quickstart.ipynb", "paper_figure.ipynb"])
def test_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert notebook.metadata["kernelspec"]["name"] == KERNEL
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


def test_quickstart_runs(kernel):
    notebook = _run("quickstart.ipynb", "SHUFFLES = 2\nN_REGIONS = 3\nZOOM_REGION = 1\n", kernel)
    text = _text(notebook)
    assert "(3, 200, 4)" in text                       # three regions, one-hot
    assert "residual" in text and "gata1_tal1_8" in text  # the scoring table
    assert _images(notebook) == 3                      # track + zoomed logo, full region, zoom window


def test_paper_figure_runs(kernel):
    parameters = ("N_PER_CLASS = 8\nSHUFFLES = 2\nIG_STEPS = 2\n"
                  "METHODS = ['grad_x_input', 'rescale', 'genomics_default_shuffled']\n")
    notebook = _run("paper_figure.ipynb", parameters, kernel)
    text = _text(notebook)
    assert "(32, 200, 4) sequences" in text
    for label in ("gradient x input", "DeepLIFT Rescale", "genomics default, 2 dinucleotide shuffles"):
        assert label in text                            # a row of the false-negative table per method
    assert "task-0 score <= 0 (%)" in text and "TAL1::TCF3" in text and "Gata1" in text
    assert _images(notebook) == 3                      # one scatter figure per method
