"""On SQLite, the turns of all the processes on one machine take turns to write, queued by the kernel.

SQLite lets one connection write at a time. One that finds the write lock taken sleeps and
tries again (1 ms, then 2, 5, 10 ms...), so under load gunicorn's workers on one file spent
much of a turn asleep or failing to lock, while others waited for the CPU (docs/benchmarks.md).
Here a turn first takes an exclusive flock on a file beside the database: the waiters sleep in
the kernel, and the next one wakes the moment the holder lets go.

The queue only orders the help line's own turns; SQLite's locking still decides who writes.
So a process that does not queue (the notification worker, a command, the ORM's session) is
as safe as before, and a turn that cannot join the queue (no file, or no place in it within
WAIT_SECONDS) goes on without it, to SQLite's busy timeout as before. The wait is bounded so that
a turn behind a long write elsewhere still answers within gunicorn's and Twilio's time limits.
A flock belongs to an open file, so the threads of one process share one place in the queue:
gunicorn's sync workers run one request at a time, and two threads writing at once are left to
SQLite's locking as before.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from functools import cache

log = logging.getLogger(__name__)

# At most this long in the queue, then on without it: with SQLite's 5 s busy timeout after it a
# turn still ends inside gunicorn's 10 s (and Twilio's 15 s) however long another write takes.
WAIT_SECONDS = 2.0


class _Late(Exception):
    """The wait for the queue ran out."""


class WriterQueue:
    """An exclusive flock on `<database>-writer`, held from a turn's first write to its end."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._pid: int | None = None
        self._waiting = False

    def _file(self) -> int | None:
        if self._pid != os.getpid():
            # A descriptor inherited across fork shares its flock with the parent's: each process
            # opens its own (and the parent's copy closes at exec, or with the parent).
            self._pid, self._fd = os.getpid(), None
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as error:
                log.warning("no write queue beside the SQLite database (%s): turns write without one",
                            error.strerror)
        return self._fd

    def join(self) -> bool:
        """Wait for this process's turn to write; False if it goes on without one."""
        fd = self._file()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return self._wait(fd)

    def _wait(self, fd: int) -> bool:
        # Only the main thread can time a blocking flock out (with SIGALRM); gunicorn's sync
        # workers run requests there. Elsewhere (a threaded development server) the turn goes on
        # without the queue, as it would without this module.
        if threading.current_thread() is not threading.main_thread():
            return False
        if signal.getitimer(signal.ITIMER_REAL)[0]:
            return False  # someone else's alarm is set: it is not ours to move
        previous = signal.signal(signal.SIGALRM, self._late)
        self._waiting = True
        try:
            signal.setitimer(signal.ITIMER_REAL, WAIT_SECONDS)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._waiting = False
            return True
        except _Late:
            # The alarm may have come just after the flock was granted: let it go either way.
            self._waiting = False
            fcntl.flock(fd, fcntl.LOCK_UN)
            log.warning("a turn waited %.0f s to write and goes on without the write queue", WAIT_SECONDS)
            return False
        finally:
            self._waiting = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            # None: the handler before was not set from Python; the default is the nearest to it.
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)

    def _late(self, signum, frame) -> None:
        if self._waiting:  # the alarm is one-shot: this raises at most once a wait
            raise _Late()

    def leave(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)


@cache
def for_database(database: str | None) -> WriterQueue | None:
    """The queue of a SQLite database file (None for an in-memory database)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return WriterQueue(f"{database}-writer")
