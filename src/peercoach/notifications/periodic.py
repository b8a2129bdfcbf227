"""The embedded default's scheduler for notifications: a thread, no Redis, no beat.

Deployments run the same services from Celery beat (`peercoach beat`).
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import connections

logger = logging.getLogger(__name__)


def run_once(*, reminders: bool) -> None:
    from . import services

    services.notifications_sweep()
    if reminders:
        from peercoach.assessments.reminders import questionnaire_reminders_send

        services.reminders_send()
        questionnaire_reminders_send()


def start(interval_seconds: float = 60.0, reminder_every: int = 15) -> threading.Thread:
    """Sweep the outbox every minute and send reminders every 15 minutes."""

    def loop() -> None:
        tick = 0
        while True:
            try:
                run_once(reminders=tick % reminder_every == 0)
            except Exception:  # keep going: one bad sweep must not stop the next
                logger.exception("Notification sweep failed")
            finally:
                connections.close_all()
            tick += 1
            time.sleep(interval_seconds)

    thread = threading.Thread(target=loop, name="peercoach-notifications", daemon=True)
    thread.start()
    return thread
