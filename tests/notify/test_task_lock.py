"""The lock that keeps periodic tasks of a kind apart, on the real Redis: renewed while its task
runs, so a task outliving the lock's lifetime still keeps the next one away; let go at the end,
or when its holder died and stopped renewing it."""

import time
from uuid import uuid4

from celery import Celery
from liaison_notify.entrypoints.task_lock import held_alone
from redis.lock import Lock

LIFETIME = 2.0


def test_a_task_longer_than_the_lock_keeps_the_next_one_away(endpoints) -> None:
    app = Celery("task_lock_test", broker=endpoints.redis_url, set_as_current=False)
    name = f"test_{uuid4().hex}"
    with held_alone(app, name, LIFETIME) as first:
        time.sleep(LIFETIME * 1.5)
        with held_alone(app, name, LIFETIME) as second:
            assert (first, second) == (True, False)
    with held_alone(app, name, LIFETIME) as after_it:
        assert after_it


def test_a_dead_holder_keeps_it_only_for_the_lifetime(endpoints) -> None:
    app = Celery("task_lock_test", broker=endpoints.redis_url, set_as_current=False)
    name = f"test_{uuid4().hex}"
    with app.connection_for_write() as connection:  # taken by a worker killed at once: never renewed
        assert Lock(connection.default_channel.client, f"{name}.running", timeout=LIFETIME).acquire(blocking=False)
    with held_alone(app, name, LIFETIME) as meanwhile:
        assert not meanwhile
    time.sleep(LIFETIME * 1.25)
    with held_alone(app, name, LIFETIME) as then:
        assert then
