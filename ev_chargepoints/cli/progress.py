"""How a command shows its progress on stderr: a bar on a terminal, plain lines elsewhere.

The core reports through :class:`~ev_chargepoints.core.progress.Progress`;
:func:`.common.command_progress` hands those reports to the one :class:`Display` that
``main`` opens for the run (:func:`shown`). On a terminal the display is a tqdm bar with
the current step, its percentage and the time taken, redrawn every second while a step
works, and cleared before the command prints a line. Elsewhere (a log file, a pipe, a
test), and on a terminal without tqdm, it is one line per step,
``Computing utilisation per device and quarter ... 10%``, at most one a second, and a
reminder while a step works longer than :data:`HEARTBEAT` seconds. ``-v`` logs every
report instead (cli/__init__.py); ``-q`` shows none.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Callable, Iterator, Optional

MIN_INTERVAL = 1.0  # seconds between two plain lines, at least
STEP_PERCENT = 10.0  # a plain line when the same step has advanced this much
HEARTBEAT = 20.0  # seconds a step may work without a plain line
TICK = 1.0  # seconds between redraws of the bar (and checks for a heartbeat line)

_active: Optional[Display] = None


def on_progress() -> Optional[Callable[[float, str], None]]:
    """Where the running command's progress goes: the open display, or nowhere."""
    return _active.update if _active is not None else None


@contextlib.contextmanager
def shown(enabled: bool = True, stream=None, bar: Optional[bool] = None) -> Iterator:
    """Open the display for one command run (a bar when ``stream`` is a terminal and tqdm
    is there) and close it, clearing any bar, when the command ends however it ends."""
    global _active
    stream = stream if stream is not None else sys.stderr
    if not enabled:
        yield None
        return
    if bar is None:
        bar = _isatty(stream) and _tqdm() is not None
    display = Display(stream, bar=bar)
    previous, _active = _active, display
    try:
        with contextlib.ExitStack() as stack:
            if bar:  # lines printed while a bar is drawn go above it, not through it
                if _isatty(sys.stdout):
                    stack.enter_context(contextlib.redirect_stdout(
                        _BarSafe(sys.stdout, display)))
                stack.enter_context(contextlib.redirect_stderr(_BarSafe(sys.stderr, display)))
            yield display
    finally:
        _active = previous
        display.close()


class Display:
    """Turns progress reports into a bar (``bar=True``, needs tqdm) or plain lines on
    ``stream``; a background tick keeps the bar's clock running and writes the plain
    heartbeat. ``clock`` is replaceable for tests of the throttle."""

    def __init__(self, stream, bar: bool = False, clock: Callable[[], float] = time.monotonic):
        self._stream = stream
        self._use_bar = bar
        self._clock = clock
        self._lock = threading.RLock()
        self._bar = None
        self._message = ""
        self._percent = 0.0
        self._step_since = clock()
        self._printed: Optional[tuple[str, float]] = None  # (message, percent) last written
        self._printed_at: Optional[float] = None
        self._pending = False
        self._open_line = False  # a line written above the bar is not finished yet
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None

    # --- reports ---------------------------------------------------------------------

    def update(self, percent: float, message: str = "") -> None:
        with self._lock:
            if self._stop.is_set():
                return
            now = self._clock()
            if message and message != self._message:
                self._message, self._step_since = message, now
            self._percent = percent
            if self._use_bar:
                self._draw(now)
            else:
                self._plain(now)
            self._start_ticker()

    def tick(self) -> None:
        """Once a second: redraw the bar (its clock), or write a plain line that the
        throttle held back, or the heartbeat of a long step."""
        with self._lock:
            if self._stop.is_set():
                return
            now = self._clock()
            if self._use_bar:
                if self._bar is not None and not self._open_line:
                    self._bar.refresh()
                return
            if self._printed_at is None or self._percent >= 100:
                return
            if self._pending and now - self._printed_at >= MIN_INTERVAL:
                self._write_line(now)
            elif now - self._printed_at >= HEARTBEAT:
                self._write_line(now, f" (still working after {_duration(now - self._step_since)})")

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=5)
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    # --- writing above the bar ---------------------------------------------------------

    @contextlib.contextmanager
    def writing_above(self, ends_line: bool) -> Iterator[None]:
        """Clear the bar for text written to the terminal; redraw it under a finished line."""
        with self._lock:
            if self._bar is not None and not self._open_line:
                self._bar.clear()
            yield
            self._open_line = not ends_line
            if self._bar is not None and ends_line:
                self._bar.refresh()

    # --- the two renderings ------------------------------------------------------------

    def _draw(self, now: float) -> None:
        if self._bar is None:
            tqdm = _tqdm()
            self._bar = tqdm(total=100, file=self._stream, leave=False, dynamic_ncols=True,
                             desc=self._message or "Working", mininterval=0.2,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}")
        self._bar.set_description_str(self._message or "Working", refresh=False)
        self._bar.n = self._percent
        if self._percent >= 100:  # a job done: the next report starts a new bar
            self._bar.close()
            self._bar = None
        elif not self._open_line:
            self._bar.refresh()

    def _plain(self, now: float) -> None:
        last = self._printed
        due = (last is None or self._message != last[0]
               or self._percent >= last[1] + STEP_PERCENT
               or (self._percent >= 100 > last[1]))
        if not due:
            return
        finished = self._percent >= 100 and (last is None or last[1] < 100)
        if (not finished and self._printed_at is not None
                and now - self._printed_at < MIN_INTERVAL):
            self._pending = True  # written by the tick, if nothing newer comes first
            return
        self._write_line(now)

    def _write_line(self, now: float, suffix: str = "") -> None:
        line = f"{self._message or 'Working'} ... {self._percent:.0f}%{suffix}"
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr: progress is not worth a crash
            pass
        self._printed, self._printed_at, self._pending = (
            (self._message, self._percent), now, False)

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick_loop, name="cli-progress",
                                            daemon=True)
            self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()


class _BarSafe:
    """stdout or stderr while a bar is drawn: each write goes above the bar."""

    def __init__(self, stream, display: Display):
        self._stream = stream
        self._display = display

    def write(self, text: str) -> int:
        with self._display.writing_above(text.endswith("\n")):
            return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm
