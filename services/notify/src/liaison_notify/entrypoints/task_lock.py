"""One periodic task of a kind at a time, across every worker and beat: a lock in the broker's Redis.

The lock is renewed while its task runs, so a scan longer than the lock's lifetime (a month's
fan-out takes minutes) still keeps the next minute's scan away; had that one run alongside, it
would have gone through the same reminders again. A worker that dies stops renewing, and the
lock expires ``seconds`` later.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from celery import Celery
from redis.exceptions import LockError
from redis.lock import Lock


@contextmanager
def held_alone(app: Celery, name: str, seconds: float) -> Iterator[bool]:
    """Whether no other task holds ``name``; if so, held for the block."""
    with app.connection_for_write() as connection:
        lock = Lock(connection.default_channel.client, f"{name}.running", timeout=seconds, thread_local=False)
        if not lock.acquire(blocking=False):
            yield False
            return
        done = threading.Event()
        renewer = threading.Thread(target=_renew, args=(lock, done, seconds / 4), daemon=True)
        renewer.start()
        try:
            yield True
        finally:
            done.set()
            renewer.join()
            with suppress(LockError):  # expired meanwhile (the process stalled): nothing to release
                lock.release()


def _renew(lock: Lock, done: threading.Event, every: float) -> None:
    while not done.wait(every):
        try:
            lock.reacquire()
        except LockError:  # lost: another task holds it now
            return
