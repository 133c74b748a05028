"""The example notebook runs top to bottom in a fresh project (nbclient + ipykernel)."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from tests.conftest import REPO
from tests.projects.kit import mlplat


def test_the_example_notebook_runs_in_a_new_project(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    mlplat(tmp_path, "init", "nb")
    notebook = nbformat.read(REPO / "examples" / "quickstart.ipynb", as_version=4)
    # ipykernel's own kernel spec starts this interpreter (the one with mlplat), in the project
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path / "nb")}}).execute()
    outputs = {i: "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
               for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    assert str(tmp_path / "nb") in outputs[1]  # the project it ran in
    assert "my-notebook-model" in "".join(outputs.values())
    assert "Yes" in outputs[max(outputs)]
