"""Both notebooks execute headless, in quick mode (SWIFTSTN_QUICK=1), without error."""
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")
pytest.importorskip("ipykernel")

NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks")


@pytest.mark.parametrize("name", ["01_stn_mnist.ipynb", "02_sampling.ipynb"])
def test_notebook_runs(name, monkeypatch, tmp_path):
    monkeypatch.setenv("SWIFTSTN_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = os.path.join(NOTEBOOKS, name)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every code cell ran
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_committed_notebooks_are_light():
    for name in os.listdir(NOTEBOOKS):
        if name.endswith(".ipynb"):
            assert os.path.getsize(os.path.join(NOTEBOOKS, name)) < 200_000, name
