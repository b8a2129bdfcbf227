"""Celery tasks. Each takes ids (never model instances) and calls one service.

`acks_late`: a job is acknowledged only after it ran, so a worker that dies mid-job
leaves it to be delivered again; the row's status makes that second run a no-op when
the first one already handed the message over. Database hiccups (a locked SQLite file,
a PostgreSQL failover) are retried by Celery with exponential backoff; failures of the
channel itself are retried through the row (see `services.notification_deliver`).
"""

from __future__ import annotations

from django.db import DatabaseError

from peercoach.config.celery import app

from . import services

_RETRY = {"acks_late": True, "reject_on_worker_lost": True,
          "autoretry_for": (DatabaseError,), "retry_backoff": 5, "retry_backoff_max": 300,
          "retry_jitter": True, "max_retries": 8}


@app.task(name="notifications.deliver", **_RETRY)
def deliver_notification(notification_id: int) -> str:
    return services.notification_deliver(notification_id=notification_id)


@app.task(name="notifications.sweep", **_RETRY)
def sweep() -> int:
    return services.notifications_sweep()


@app.task(name="notifications.reminders", **_RETRY)
def send_reminders() -> int:
    from peercoach.assessments.reminders import questionnaire_reminders_send

    return services.reminders_send() + questionnaire_reminders_send()


@app.task(name="supervision.scan", **_RETRY)
def supervision_scan() -> None:
    """Alerts and safety escalation: the same code `peercoach scan` and the demo run."""
    from peercoach.supervision.periodic import run_once

    run_once()
