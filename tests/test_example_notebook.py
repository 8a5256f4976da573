"""The example notebook runs from top to bottom, and its results render as tables and figures."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "walkthrough.ipynb"


def test_example_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_example_notebook_runs_and_its_results_render(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # cwd = tmp_path: the notebook writes its report there, not into the repository
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    outputs = {i: cell.outputs for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    errors = [o for cell in outputs.values() for o in cell if o.get("output_type") == "error"]
    assert errors == []
    sources = {i: notebook.cells[i].source for i in outputs}

    def data(fragment: str) -> dict:
        index = next(i for i, source in sources.items() if source.strip() == fragment)
        shown = [o for o in outputs[index] if o.get("output_type") == "execute_result"]
        assert shown, fragment
        return shown[0]["data"]

    # the run's repr is one short line; every summary renders as HTML tables
    run_cell = next(i for i, s in sources.items() if s.rstrip().endswith("\nrun"))
    result = next(o for o in outputs[run_cell] if o.get("output_type") == "execute_result")
    run_repr = result["data"]["text/plain"]
    assert run_repr.startswith("RunResult(events=4, symbols=4") and len(run_repr) < 200
    for fragment in ("run.summary()", "run.study.summary()", "run.recovery.summary()", "run.trade.summary()"):
        shown = data(fragment)
        assert "<table" in shown["text/html"] and "\\n" not in shown["text/html"], fragment
    assert "Leave-one-event-out" in data("run.trade.summary()")["text/html"]
    assert "Kaplan-Meier" in data("run.recovery.summary()")["text/html"]
    for fragment in ('run.plot("car_paths")', 'run.plot("survival")', 'run.plot("equity")'):
        assert "image/png" in data(fragment), fragment
    assert (tmp_path / "notebook_out" / "report.html").is_file()
