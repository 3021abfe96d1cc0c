"""On SQLite, turns take turns to write through a flock beside the database (helpline.writer_queue)."""
from __future__ import annotations

import fcntl
import logging
import os
import select
import signal
import threading

import pytest

from helpline import turn_store, writer_queue
from helpline.db import db
from helpline.models import Conversation
from helpline.writer_queue import WriterQueue
from test_own_connection import _count, _texters_record


def _held_elsewhere(path: str) -> bool:
    """Whether another holder has the flock: a descriptor of our own cannot take it."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _in_child(work) -> bytes:
    """Run `work` in a forked child; what it writes to the pipe it is given, once it ends."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once, whatever happens
        try:
            os.write(write, work())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    out = os.read(read, 200)
    os.close(read)
    return out


def test_a_second_process_waits_in_the_kernel_until_the_first_leaves(tmp_path):
    queue = WriterQueue(str(tmp_path / "helpline.db-writer"))
    assert queue.join()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            joined = WriterQueue(queue.path).join()
            os.write(write, b"joined" if joined else b"gave up")
        finally:
            os._exit(0)
    os.close(write)
    try:
        waiting, _, _ = select.select([read], [], [], 0.3)
        assert waiting == []  # the child is still queued behind this process
        queue.leave()
        ready, _, _ = select.select([read], [], [], 10)
        assert ready and os.read(read, 20) == b"joined"
    finally:
        os.waitpid(pid, 0)
        os.close(read)


def test_a_forked_child_does_not_inherit_its_parents_place(tmp_path, monkeypatch):
    # flock belongs to the open file: a descriptor inherited across fork would let the child in.
    monkeypatch.setattr(writer_queue, "WAIT_SECONDS", 0.2)
    queue = WriterQueue(str(tmp_path / "helpline.db-writer"))
    assert queue.join()
    try:
        assert _in_child(lambda: b"joined" if queue.join() else b"went on without") == b"went on without"
    finally:
        queue.leave()
    assert _in_child(lambda: b"joined" if queue.join() else b"went on without") == b"joined"


def _in_child_while_held(path: str, work) -> bytes:
    """`work` in a forked child while this process holds the queue."""
    holder = WriterQueue(path)
    assert holder.join()
    try:
        return _in_child(work)
    finally:
        holder.leave()


def test_the_wait_is_bounded_and_leaves_the_alarm_as_it_found_it(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_queue, "WAIT_SECONDS", 0.2)
    path = str(tmp_path / "helpline.db-writer")

    def child() -> bytes:
        alarms: list[int] = []
        handler = lambda *_: alarms.append(1)  # noqa: E731
        signal.signal(signal.SIGALRM, handler)
        joined = WriterQueue(path).join()
        return repr((joined, signal.getsignal(signal.SIGALRM) is handler,
                     signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), alarms == [])).encode()

    # Gave up, the handler before back in place and never called, no alarm left set.
    assert _in_child_while_held(path, child) == b"(False, True, True, True)"


def test_an_alarm_set_by_someone_else_is_left_alone(tmp_path):
    path = str(tmp_path / "helpline.db-writer")

    def child() -> bytes:
        signal.signal(signal.SIGALRM, lambda *_: None)
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        joined = WriterQueue(path).join()
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        return repr((joined, 25.0 < remaining <= 30.0)).encode()

    # On without the queue at once, the alarm still counting.
    assert _in_child_while_held(path, child) == b"(False, True)"


def test_outside_the_main_thread_a_busy_queue_is_passed_by_at_once(tmp_path):
    path = str(tmp_path / "helpline.db-writer")
    holder = WriterQueue(path)
    assert holder.join()
    results: list[bool] = []
    other = WriterQueue(path)
    try:
        thread = threading.Thread(target=lambda: results.append(other.join()))
        thread.start()
        thread.join(timeout=10)
        assert results == [False]
    finally:
        holder.leave()
    thread = threading.Thread(target=lambda: results.append(other.join()))
    thread.start()
    thread.join(timeout=10)
    other.leave()
    assert results == [False, True]


def test_without_a_file_there_is_no_queue_and_the_turn_goes_on(tmp_path, caplog):
    queue = WriterQueue(str(tmp_path / "missing-folder" / "helpline.db-writer"))
    with caplog.at_level(logging.WARNING, logger="helpline.writer_queue"):
        assert queue.join() is False
    assert "no write queue" in caplog.text
    queue.leave()  # nothing to leave: no error
    assert writer_queue.for_database(":memory:") is None and writer_queue.for_database(None) is None


def _sqlite_queue(app) -> WriterQueue:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write queue is SQLite's")
    queue = writer_queue.for_database(db.engine.url.database)
    assert queue is not None and queue.path == db.engine.url.database + "-writer"
    return queue


def test_a_turn_holds_its_place_from_its_first_write_until_it_has_committed(app):
    queue = _sqlite_queue(app)
    db.session.commit()
    seen: list[bool] = []
    with turn_store.own_transaction():
        turn_store.load_call("CA" + "0" * 32, "a-request-key")  # a call's read: no place taken
        seen.append(os.path.exists(queue.path) and _held_elsewhere(queue.path))
        turn_store.save(_texters_record())
        seen.append(_held_elsewhere(queue.path))
    seen.append(_held_elsewhere(queue.path))
    assert seen == [False, True, False]
    db.session.rollback()
    assert _count(Conversation) == 1


def test_a_turn_that_fails_after_writing_gives_its_place_up(app):
    queue = _sqlite_queue(app)
    db.session.commit()
    with pytest.raises(RuntimeError):
        with turn_store.own_transaction():
            turn_store.save(_texters_record())
            assert _held_elsewhere(queue.path)
            raise RuntimeError("the engine failed")
    assert not _held_elsewhere(queue.path)
    assert _count(Conversation) == 0


def test_a_turn_still_writes_when_the_queue_is_held_elsewhere_too_long(app, monkeypatch):
    # A place not given in time: the turn goes on to SQLite's own locking, as without the queue.
    queue = _sqlite_queue(app)
    monkeypatch.setattr(writer_queue, "WAIT_SECONDS", 0.2)
    db.session.commit()
    fd = os.open(queue.path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no turn holds it
    try:
        with turn_store.own_transaction():
            turn_store.save(_texters_record())
    finally:
        os.close(fd)
    db.session.rollback()
    assert _count(Conversation) == 1


def test_a_turn_that_went_on_without_the_queue_does_not_ask_again_at_its_next_write(app, monkeypatch):
    # It holds SQLite's write lock from its first write: waiting then for a place behind a turn
    # that waits for that lock would hold both up.
    queue = _sqlite_queue(app)
    db.session.commit()
    asked: list[int] = []
    monkeypatch.setattr(queue, "join", lambda: asked.append(1) or False)
    first, second = _texters_record(), _texters_record()
    with turn_store.own_transaction():
        turn_store.save(first)
        turn_store.save(second)
    assert asked == [1]
    db.session.rollback()
    assert _count(Conversation) == 2
