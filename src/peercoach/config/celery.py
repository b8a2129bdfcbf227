"""The Celery app. One code path for both ways PeerCoach runs:

* REDIS_URL set (production): jobs go to Redis; `peercoach worker` runs them and
  `peercoach beat` schedules the periodic ones below.
* REDIS_URL unset (the embedded default, tests): `task_always_eager`, so a queued job
  runs in the process that queued it, and `peercoach demo` runs the periodic jobs from
  threads (`supervision.periodic`, `notifications.periodic`). No Redis needed.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")

app = Celery("peercoach")
# Settings named CELERY_* in settings.py (broker, eagerness, timeouts).
app.config_from_object("django.conf:settings", namespace="CELERY")

#: Periodic jobs for `peercoach beat`.
app.conf.beat_schedule = {
    "supervision-scan": {"task": "supervision.scan", "schedule": 60.0},
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},
    "notifications-reminders": {"task": "notifications.reminders", "schedule": 15 * 60.0},
}

# The modules that define tasks (imported lazily, once Django is set up).
app.conf.imports = ("peercoach.notifications.tasks", "peercoach.research.tasks")


def use_broker(url: str | None) -> None:
    """Point the app at another broker, or back to in-process (None). For tests and
    benchmarks: drops pooled connections so the next job uses the new setting."""
    if url:
        app.conf.update(broker_url=url, task_always_eager=False)
    else:
        app.conf.update(broker_url="memory://localhost/", task_always_eager=True)
    from kombu import pools

    pool = app._pool
    if pool is not None:
        pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu keeps producer pools per broker address, process-wide
