"""One progress display per fit (``verbose=1``): what it prints, where, and how often."""

import io
import re
import sys
import time

import dask.array as da
import numpy as np
import pytest
from scipy.special import expit

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    _progress,
    penalized_glm_path,
)
from dask_glmdist._progress import _Display, fit_progress, report


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 4))
    y = (rng.random(4000) < expit(0.3 + X[:, :2] @ [1.0, -0.8])).astype(float)
    return X, y


@pytest.fixture
def slow_rounds(monkeypatch):
    """A clock on which every round takes 100 s: the throttle lets a line through at
    every round's start (and the timer that would write a held-back update within the
    round is cancelled before it fires)."""
    now = [0.0]
    start_round = _Display.start_round

    def slow_start(self, n_blocks):
        now[0] += 100.0
        start_round(self, n_blocks)

    monkeypatch.setattr(_progress, "_now", lambda: now[0])
    monkeypatch.setattr(_Display, "start_round", slow_start)


def test_plain_lines_name_the_round_and_its_bound(data, slow_rounds, capsys):
    X, y = data
    m = DLSALogisticRegression(refine_steps=4, tol=1e-12, n_partitions=4, verbose=1).fit(X, y)
    out, text = capsys.readouterr()
    lines = text.splitlines()
    assert "\r" not in text
    assert m.n_iter_ == 5 and m.n_rounds_ == 6  # + the fit-statistics pass
    assert len(lines) <= 6 + 2
    for k in range(1, 6):
        assert f"DLSALogisticRegression: round {k} of ≤ 5" in text
    assert re.fullmatch(r"DLSALogisticRegression: done in 6 rounds, step [0-9.e+-]+, "
                        r"[0-9.]+ s", lines[-1])
    assert "step" in lines[2]  # the refinement step of round 2, shown in round 3's line
    assert out == ""  # no Dask progress bars


def test_a_fast_fit_prints_one_line(data, capsys):
    X, y = data
    PenalizedLogisticRegression(alpha=0.01, n_partitions=4, verbose=1).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("PenalizedLogisticRegression: done in ")


def test_nothing_is_printed_with_verbose_0(data, capsys):
    X, y = data
    DLSALogisticRegression(refine_steps=2, n_partitions=4).fit(X, y)
    BiasReducedGLM(n_partitions=4).fit(X, y)
    assert capsys.readouterr() == ("", "")


def test_a_terminal_gets_one_line_rewritten_in_place(data, monkeypatch, slow_rounds):
    monkeypatch.setenv("COLUMNS", "150")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    X, y = data
    m = PenalizedLogisticRegression(alpha=0.01, n_partitions=4, verbose=1).fit(X, y)
    text = tty.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    frames = text[1:-1].split("\r")
    assert len(frames) > m.n_rounds_  # redrawn in place, round by round
    assert all(f.startswith("PenalizedLogisticRegression: ") for f in frames)
    assert "iteration 2 of ≤ 100, round 4, 0/4 blocks, objective" in text
    assert frames[-1].startswith(f"PenalizedLogisticRegression: done in {m.n_rounds_} rounds "
                                 f"({m.n_iter_} iterations)")


def _path(X, y, verbose):
    return penalized_glm_path(X, y, n_alphas=3, n_partitions=4, verbose=verbose)


# (estimator or function, expected label, the fit's own count of rounds)
FITS = [
    (DLSARegressor(refine_steps=2, n_partitions=4), "DLSARegressor", "n_rounds_"),
    (DLSALogisticRegression(refine_steps=1, n_partitions=4), "DLSALogisticRegression",
     "n_rounds_"),
    (BiasReducedGLM(n_partitions=4), "BiasReducedGLM(mBR)", "n_rounds_"),
    (BiasReducedGLM(method="ML", n_partitions=4), "BiasReducedGLM(ML)", "n_rounds_"),
    (PenalizedGLM("poisson", alpha=0.01, n_partitions=4), "PenalizedGLM", "n_rounds_"),
    (PenalizedLogisticRegression(alpha=0.01, n_partitions=4), "PenalizedLogisticRegression",
     "n_rounds_"),
    (PenalizedGLMCV(n_alphas=3, cv=2, n_partitions=4), "PenalizedGLMCV", "n_rounds_"),
    (PenalizedGLMCV(n_alphas=3, criterion="bic", n_partitions=4), "PenalizedGLMCV",
     "n_rounds_"),
    (DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=4),
     "DebiasedLassoRegressor(debiased)", "n_rounds_"),
    (DebiasedLassoRegressor(alpha=0.01, family="gaussian", link="log", n_partitions=4),
     "DebiasedLassoRegressor(debiased)", "n_rounds_"),  # + dispersion, statistics
    (_path, "penalized_glm_path", "n_rounds"),
]


@pytest.mark.parametrize("est, label, rounds", FITS,
                         ids=[f"{lab}-{i}" for i, (_, lab, _) in enumerate(FITS)])
def test_one_display_per_fit(data, slow_rounds, capsys, est, label, rounds):
    X, y = data
    if "poisson" in repr(est) or "log" in repr(est):
        y = np.exp(0.2 + 0.3 * X[:, 0]) * (0.5 + np.random.default_rng(0).random(len(y)))
        y = np.round(y) if "poisson" in repr(est) else y
    if est is _path:
        fitted = _path(X, y, verbose=1)
    else:
        fitted = est.set_params(verbose=1).fit(X, y)
    n_rounds = rounds if isinstance(rounds, int) else int(np.sum(getattr(fitted, rounds)))
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert all(line.startswith(label + ": ") for line in lines), lines
    assert [i for i, line in enumerate(lines) if ": done in" in line] == [len(lines) - 1]
    assert f": done in {n_rounds} {'pass' if 'BiasReduced' in label else 'round'}" in lines[-1]
    assert len(lines) == n_rounds + 1  # a line per (100-second) round and the final one
    assert "\r" not in err and out == ""


def test_path_and_cross_validation_say_which_fold_and_alpha(data, slow_rounds, capsys):
    X, y = data
    PenalizedGLMCV(n_alphas=3, cv=2, n_partitions=4, verbose=1).fit(X, y)
    text = capsys.readouterr().err
    for fold in (1, 2):
        for alpha in (1, 2, 3):
            assert re.search(rf"PenalizedGLMCV: fold {fold} of 2, alpha {alpha} of 3 "
                             r"\([0-9.e-]+\), round \d+", text)
    # the refit on all blocks follows, without a fold
    assert re.search(r"PenalizedGLMCV: alpha 1 of 3 \([0-9.e-]+\), round \d+", text)
    assert "iteration" not in text  # the path's unit is the round


def test_brglm_counts_iterations_and_passes(data, slow_rounds, capsys):
    X, y = data
    m = BiasReducedGLM(n_partitions=4, max_iter=50, verbose=1).fit(X, y)
    text = capsys.readouterr().err
    assert re.search(r"iteration 3 of ≤ 50, pass \d+, 0/4 blocks, deviance [0-9.]+, "
                     r"step [0-9.e-]+", text)
    assert text.splitlines()[-1].startswith(
        f"BiasReducedGLM(mBR): done in {m.n_rounds_} passes ({m.n_iter_} iterations)")


def test_a_failed_fit_says_so_and_closes_its_display(capsys):
    X = da.from_array(np.array([[1.0, 0.0], [np.nan, 1.0], [0.5, 2.0], [1.5, 0.1]] * 10),
                      chunks=(20, 2))
    y = da.from_array(np.array([0.0, 1.0, 1.0, 0.0] * 10), chunks=20)
    with pytest.raises(ValueError, match="NaN"):
        DLSALogisticRegression(verbose=1).fit(X, y)
    assert re.fullmatch(r"DLSALogisticRegression: stopped \(ValueError\) after 1 round, "
                        r"[0-9.]+ s\n", capsys.readouterr().err)
    assert _progress.active_display() is None


def test_a_fit_inside_an_open_display_adds_to_it(data, capsys):
    X, y = data
    with fit_progress("my pipeline"):
        report(stage="two fits")
        DLSALogisticRegression(n_partitions=4, verbose=1).fit(X, y)
        PenalizedLogisticRegression(alpha=0.01, n_partitions=4, verbose=1).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("my pipeline: done in ")


def test_on_a_distributed_cluster_progress_is_per_round(data, slow_rounds, capsys):
    distributed = pytest.importorskip("distributed")
    X, y = data
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        m = PenalizedLogisticRegression(alpha=0.01, n_partitions=4, verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("PenalizedLogistic")]
    assert len(lines) == m.n_rounds_ + 1
    assert re.search(r"iteration 2 of ≤ 100, round 4, objective [0-9.]+, KKT", err)
    assert "blocks" not in err  # no block counts: the scheduler is remote
    assert "Completed" not in out + err and "[#" not in out + err


def test_throttle_of_plain_lines():
    now = [0.0]
    out = io.StringIO()
    d = _Display("fit", total=1000, stream=out, clock=lambda: now[0], defer=False)
    for _ in range(100):  # 100 rounds in half a second: only the final line
        d.start_round(4)
        d.end_round()
        now[0] += 0.005
    assert out.getvalue() == ""
    for _ in range(900):  # 900 one-second rounds: a line a second, then sparser
        d.start_round(4)
        d.end_round()
        now[0] += 1.0
    d.close()
    lines = out.getvalue().splitlines()
    assert 40 < len(lines) < 80
    assert lines[-1] == "fit: done in 1000 rounds, 900.5 s"
    times = [float(line.rsplit(", ", 1)[1][:-2]) for line in lines[:-1]]
    gaps = np.diff(times)
    spacing = np.clip(0.1 * np.array(times[:-1]), 1.0, 60.0)  # 1 s, elapsed / 10, 1 min
    assert np.all(gaps >= spacing - 1e-9)
    assert np.all(gaps < spacing + 1.0 + 1e-9)  # rounds end every second


def test_a_terminal_without_unicode_gets_ascii():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    now = [0.0]
    d = _Display("fit", total=3, stream=stream, clock=lambda: now[0], defer=False)
    now[0] = 2.0
    d.start_round(1)
    d.close()
    assert b"fit: round 1 of <= 3" in raw.getvalue()


def test_a_held_back_update_is_written_once_its_interval_is_over(monkeypatch):
    monkeypatch.setattr(_progress, "LINE_INTERVAL", 0.05)  # the first line after 0.05 s
    monkeypatch.setattr(_progress, "LINE_FRACTION", 100.0)  # the next one seconds later
    out = io.StringIO()
    d = _Display("fit", total=3, stream=out)
    d.start_round(0)  # within the first interval: held back, a timer writes it
    assert out.getvalue() == ""
    deadline = time.monotonic() + 10
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert re.fullmatch(r"fit: round 1 of ≤ 3, 0\.\d s\n", out.getvalue())
    d.update({"step": 0.5})  # held back again; the fit ends before the timer fires
    d.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("fit: done in 1 round, step 0.5, ")


def test_a_narrow_terminal_drops_the_block_count_then_the_last_values():
    from dask_glmdist._progress import _fit_width

    parts = ["BiasReducedGLM(mBR): iteration 3 of ≤ 100, pass 7", "2/8 blocks",
             "deviance 442937.69", "step 0.0043", "2.7 s"]
    assert _fit_width(parts, 200) == ", ".join(parts)
    assert _fit_width(parts, 90) == ("BiasReducedGLM(mBR): iteration 3 of ≤ 100, pass 7, "
                                     "deviance 442937.69, step 0.0043, 2.7 s")
    assert _fit_width(parts, 79) == ("BiasReducedGLM(mBR): iteration 3 of ≤ 100, pass 7, "
                                     "deviance 442937.69, 2.7 s")
    assert _fit_width(parts, 30) == "BiasReducedGLM(mBR): iteration"
