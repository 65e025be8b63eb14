"""One progress display per fit: which round a fit is on, out of how many, and how far along.

A fit opens the display (:func:`fit_progress`, or the :func:`shows_progress`
decorator on ``fit``) when its ``verbose`` is positive; it is held in a context
variable, so the round engine (:class:`dask_glmdist.rounds.RoundEngine`) and the
solvers find it without being passed anything:

* every round (one ``compute()`` over the row blocks) is counted, and under Dask's
  local schedulers the blocks finished within the round are shown too (a Dask
  callback; under a ``distributed.Client`` the display is per round only);
* a solver reports its progress with one call per iteration,
  ``report(iteration=k, objective=F, step=s)`` -- a no-op when no display is open.

A fit opened inside another fit's display (a path inside a cross-validation) adds
to that display rather than opening a second one.

Output goes to ``sys.stderr`` (looked up when the fit starts), so that it never
mixes with what a program prints on stdout:

* on a terminal, one line rewritten in place (``\\r``) at most every 0.1 s and
  finished with a newline when the fit ends; while it runs::

      PenalizedLogisticRegression: iteration 3 of ≤ 100, round 5 [2/4 blocks],
      objective 0.5760577, KKT 2.08e-05, 2.3 s

  (one line on the screen, cut to the terminal's width);

* otherwise (a log file, a pipe, a notebook), plain lines without carriage
  returns: at most one a second -- spaced out to a tenth of the elapsed time on
  long fits, but never more than a minute apart -- each with the latest state, and
  a final line::

      BiasReducedGLM(method='mBR'): iteration 3 of ≤ 100, pass 7, deviance 4471.0096,
      step 0.00286, 1.2 s
      BiasReducedGLM(method='mBR'): done in 10 passes (5 iterations), deviance
      4470.9939, step 6.38e-10, 2.0 s

  (two lines, wrapped here), so a fit shorter than a second prints exactly one line.

Nothing runs in the background while the display is quiet: an update that the
throttle holds back is written by a single timer thread at the end of its interval
(cancelled, not joined, when the fit ends).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import math
import shutil
import sys
import threading
import time

__all__ = ["fit_progress", "shows_progress", "report", "active_display"]

#: seconds between two redraws of the terminal line
TTY_INTERVAL = 0.1
#: least seconds between two plain lines ...
LINE_INTERVAL = 1.0
#: ... spaced out to this fraction of the elapsed time on long fits ...
LINE_FRACTION = 0.1
#: ... but never more than this many seconds apart
LINE_MAX_INTERVAL = 60.0

# fields shown before the round counter (where in a path or a cross-validation)
_CONTEXT_FIELDS = ("fold", "alpha")
_PRECISE_FIELDS = ("objective", "deviance")

_now = time.monotonic  # the displays' clock

_ACTIVE: contextvars.ContextVar[_Display | None] = contextvars.ContextVar(
    "dask_glmdist_progress", default=None
)


def active_display() -> _Display | None:
    """The display of the fit running in this context, if it shows progress."""
    return _ACTIVE.get()


def report(**fields) -> None:
    """Show solver values in the active fit's display (a no-op without one).

    ``iteration=k`` is the counter of fits whose unit is the iteration; numbers are
    shown as ``name value``, a tuple ``(i, n)`` as ``name i of n`` (``(i, n, x)``:
    ``name i of n (x)``); ``None`` removes a field.
    """
    display = _ACTIVE.get()
    if display is not None:
        display.update(fields)


def _verbose_on(verbose) -> bool:
    try:
        return int(verbose) > 0
    except (TypeError, ValueError):
        return False


def describe(owner) -> str:
    """The display's label for an estimator: its class, and its ``method`` if it has one
    (not the one the class names as its plain one, ``_plain_method``)."""
    name = type(owner).__name__
    method = getattr(owner, "method", None)
    shown = isinstance(method, str) and method != getattr(owner, "_plain_method", None)
    return f"{name}({method})" if shown else name


@contextlib.contextmanager
def fit_progress(label: str, *, verbose=1, unit: str = "round", total: int | None = None,
                 round_name: str = "round", stream=None):
    """Open the fit's progress display (nothing when ``verbose`` is 0, or one is open).

    Parameters
    ----------
    label : str
        What is being fitted, the start of every line.
    unit : {"round", "iteration"}
        What ``total`` bounds: rounds over the data (counted by the round engine) or
        solver iterations (reported with ``report(iteration=k)``).
    total : int, optional
        The most rounds (or iterations) the fit can take, shown as "of ≤ total"
        while the count is within it.
    round_name : str
        What a round is called ("round", or "pass" for IWLS).
    stream : file-like, optional
        Where to write; default ``sys.stderr`` at the time the fit starts.
    """
    outer = _ACTIVE.get()
    if outer is not None or not _verbose_on(verbose):
        yield outer
        return
    display = _Display(label, unit=unit, total=total, round_name=round_name,
                       stream=sys.stderr if stream is None else stream)
    token = _ACTIVE.set(display)
    error = None
    try:
        yield display
    except BaseException as exc:
        error = exc
        raise
    finally:
        _ACTIVE.reset(token)
        display.close(error)


def shows_progress(*, unit: str = "round", total=None, round_name: str = "round", label=None):
    """Decorate ``fit`` (or a function with a ``verbose=`` keyword) with a progress display.

    For a method, ``verbose`` is the estimator's, ``total`` may be a function of the
    estimator (e.g. ``lambda est: est.max_iter``) and the label is
    :func:`describe`'s; for a function, ``verbose`` is its keyword argument and the
    label its name.
    """

    def decorate(func):
        params = list(inspect.signature(func).parameters)
        method = bool(params) and params[0] == "self"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if method:
                owner = args[0]
                verbose = getattr(owner, "verbose", 0)
                name = label or describe(owner)
                bound = total(owner) if callable(total) else total
            else:
                verbose = kwargs.get("verbose", 0)
                name = label or func.__name__
                bound = total
            if not _verbose_on(verbose) or _ACTIVE.get() is not None:
                return func(*args, **kwargs)
            with fit_progress(name, verbose=verbose, unit=unit, total=bound,
                              round_name=round_name):
                return func(*args, **kwargs)

        return wrapper

    return decorate


def _format(name: str, value) -> str | None:
    if isinstance(value, tuple):
        text = f"{name} {value[0]} of {value[1]}"
        if len(value) > 2:
            text += f" ({_number(value[2], 3)})"
        return text
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return f"{name} {_number(value, 7 if name in _PRECISE_FIELDS else 3)}"
    return f"{name} {value}"


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


def _fit_width(parts: list[str], width: int) -> str:
    """``parts`` joined in at most ``width`` characters: without the block count first,
    then without the last solver values; the first part and the time stay."""
    width = max(width, 20)
    keep = list(parts)
    middle = sorted(range(1, len(parts) - 1),
                    key=lambda i: (not parts[i].endswith(" blocks"), -i))
    for i in middle:
        if len(", ".join(p for p in keep if p is not None)) <= width:
            break
        keep[i] = None
    return ", ".join(p for p in keep if p is not None)[:width]


def _number(value, digits: int) -> str:
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


class _Display:
    """The state of one fit's display and its throttled writer (thread-safe)."""

    def __init__(self, label, *, unit="round", total=None, round_name="round", stream,
                 clock=None, defer=True):
        self.label = label
        self.unit = unit
        self.total = int(total) if total is not None else None
        self.round_name = round_name
        self.stream = stream
        self.rounds = 0
        self.blocks_total = 0
        self.blocks_done = 0
        self.in_round = False
        self.fields: dict = {}
        self._clock = clock if clock is not None else _now
        self._defer = defer
        self._lock = threading.Lock()
        self._timer = None
        self._closed = False
        self._shown: list = []  # the last state written (without the elapsed time)
        self._width = 0  # terminal: the length of the line on screen
        try:
            self.tty = bool(stream.isatty())
        except (AttributeError, ValueError, OSError):
            self.tty = False
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "≤".encode(encoding)
            self._le = "≤"
        except (UnicodeEncodeError, LookupError):
            self._le = "<="
        self.start = self._clock()
        self._next = self.start if self.tty else self.start + LINE_INTERVAL

    # ---- events ------------------------------------------------------------------------
    def start_round(self, n_blocks: int) -> None:
        with self._lock:
            self.rounds += 1
            self.in_round = True
            self.blocks_total = int(n_blocks)
            self.blocks_done = 0
            self._changed()

    def block_done(self) -> None:
        with self._lock:
            if self.in_round and self.blocks_done < self.blocks_total:
                self.blocks_done += 1
                self._changed()

    def end_round(self) -> None:
        with self._lock:
            self.in_round = False
            self._changed()

    def update(self, fields: dict) -> None:
        with self._lock:
            if any(name in _CONTEXT_FIELDS and self.fields.get(name) != value
                   for name, value in fields.items()):
                # a new fold or alpha: the solver's values belonged to the last one
                self.fields = {k: v for k, v in self.fields.items() if k in _CONTEXT_FIELDS}
            for name, value in fields.items():
                if value is None:
                    self.fields.pop(name, None)
                else:
                    self.fields[name] = value
            self._changed()

    def close(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()  # not joined: the fit does not wait for it
                self._timer = None
            self._write(self._final(error), final=True)

    # ---- text: a line is a list of parts, joined by ", " --------------------------------
    def _parts(self) -> list[str]:
        """The current state: the label, where the fit is, then the solver's values."""
        segments = [_format(name, self.fields[name]) for name in _CONTEXT_FIELDS
                    if name in self.fields]
        iteration = self.fields.get("iteration")
        if self.unit == "iteration" and iteration is not None:
            segments.append(f"iteration {iteration}{self._bound(iteration)}")
        counter = f"{self.round_name} {self.rounds}"
        if self.unit == "round":
            counter += self._bound(self.rounds)
        segments.append(counter)
        parts = [f"{self.label}: " + ", ".join(segments)]
        if self.in_round and self.blocks_total > 1:
            parts.append(f"{self.blocks_done}/{self.blocks_total} blocks")
        return parts + self._values()

    def _bound(self, count: int) -> str:
        """The text " of ≤ total" while the count is within the bound (halvings go over)."""
        return f" of {self._le} {self.total}" if self.total and count <= self.total else ""

    def _values(self) -> list[str]:
        values = (_format(name, value) for name, value in self.fields.items()
                  if name not in _CONTEXT_FIELDS and name != "iteration")
        return [v for v in values if v is not None]

    def _final(self, error) -> list[str]:
        elapsed = f"{self._clock() - self.start:.1f} s"
        rounds = _count(self.rounds, self.round_name)
        if error is not None:
            return [f"{self.label}: stopped ({type(error).__name__}) after {rounds}", elapsed]
        text = f"{self.label}: done in {rounds}"
        iteration = self.fields.get("iteration")
        if self.unit == "iteration" and iteration is not None:
            text += f" ({_count(iteration, 'iteration')})"
        return [text, *self._values(), elapsed]

    # ---- writing -----------------------------------------------------------------------
    def _changed(self) -> None:
        """Write the new state if the throttle allows, else once its interval is over."""
        if self._closed:
            return
        now = self._clock()
        if now >= self._next:
            self._show(now)
        elif self._defer and self._timer is None:
            self._timer = threading.Timer(self._next - now, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            self._changed()  # a line written meanwhile restarts the interval

    def _show(self, now: float) -> None:
        parts = self._parts()
        if parts == self._shown:
            return
        self._shown = parts
        self._write([*parts, f"{now - self.start:.1f} s"])
        if self.tty:
            self._next = now + TTY_INTERVAL
        else:
            elapsed = now - self.start
            self._next = now + min(max(LINE_INTERVAL, LINE_FRACTION * elapsed),
                                   LINE_MAX_INTERVAL)

    def _write(self, parts: list[str], final: bool = False) -> None:
        try:
            if self.tty:  # a running line must fit the screen; the final one may wrap
                width = shutil.get_terminal_size((100, 24)).columns - 1
                line = ", ".join(parts) if final else _fit_width(parts, width)
                pad = " " * max(self._width - len(line), 0)
                self._width = len(line)
                self.stream.write("\r" + line + pad + ("\n" if final else ""))
            else:
                self.stream.write(", ".join(parts) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: stop showing
            self._closed = True
