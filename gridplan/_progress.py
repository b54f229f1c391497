"""Progress of long work: one message per stage, and counted steps for progress bars.

Every long function takes ``progress``: any callable of one message (``print``, a logger's
method, the CLI's line printer). Work done in counted steps (communities, batches, boards) is
reported through :func:`tell` with ``done`` and ``total``: a plain callable gets the message
with ``(done/total)`` appended; a :class:`ProgressBars` (or any object with a
``step(message, done, total)`` method) draws a bar instead. Bars use ``tqdm.auto``: a text bar
in a terminal, a widget in Jupyter.

Example
-------
>>> tell(print, "community C01 planned", done=1, total=3)
community C01 planned (1/3)
>>> from gridplan.run import plan_dataset                       # doctest: +SKIP
>>> with ProgressBars() as bars:                                # doctest: +SKIP
...     plan = plan_dataset(ds, progress=bars)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["Progress", "ProgressBars", "tell"]

#: A progress callback: one message per call.
Progress = Callable[[str], None]


def tell(
    progress: Progress | None,
    message: str,
    *,
    done: int | None = None,
    total: int | None = None,
) -> None:
    """Report ``message`` (step ``done`` of ``total`` when counted) to ``progress``.

    Parameters
    ----------
    progress
        ``None`` (nothing is reported), a callable of one message, or an object that also has
        ``step(message, done, total)`` (it then gets counted steps that way).
    message
        What is happening, without the count.
    done, total
        The count of a counted step.
    """
    if progress is None:
        return
    if done is None or total is None:
        progress(message)
        return
    step = getattr(progress, "step", None)
    if callable(step):
        step(message, done, total)
    else:
        progress(f"{message} ({done}/{total})")


class ProgressBars:
    """A progress callback drawing a bar (``tqdm.auto``) per run of counted steps.

    A plain message closes any open bar and is printed as a line (``echo``; by default to
    stderr); counted steps (:func:`tell`) update one bar per ``total``, closed when done.

    Parameters
    ----------
    echo
        Where plain messages go (``None``: written to ``file``).
    file
        The stream bars (and plain messages) are written to; stderr by default.
    leave
        Keep a finished bar on screen.
    """

    def __init__(
        self,
        echo: Callable[[str], None] | None = None,
        *,
        file: IO[str] | None = None,
        leave: bool = False,
    ) -> None:
        self._file = file
        self._echo = echo
        self._leave = leave
        self._bar: Any = None
        self._total: int | None = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the open bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._total = None

    def __call__(self, message: str) -> None:
        self.close()
        if self._echo is not None:
            self._echo(message)
        else:
            print(message, file=self._file or sys.stderr)

    def step(self, message: str, done: int, total: int) -> None:
        """Step ``done`` of ``total``: the bar moves to ``done``, ``message`` beside it."""
        if self._bar is None or self._total != total:
            from tqdm.auto import tqdm

            self.close()
            stream = self._file or sys.stderr
            notebook = tqdm.__module__.startswith("tqdm.notebook")
            if not notebook and not getattr(stream, "isatty", lambda: False)():
                # a log file or a pipe: one line per step, no bar redrawn with carriage returns
                self(f"{message} ({done}/{total})")
                return
            self._bar = tqdm(
                total=total,
                file=stream,
                leave=self._leave,
                dynamic_ncols=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                "[{elapsed}<{remaining}]",
            )
            self._total = total
        self._bar.set_description_str(message, refresh=False)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.refresh()
            self.close()
