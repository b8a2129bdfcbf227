"""Celery tasks of the research app. Each takes ids (never model instances) and calls one
service. Without REDIS_URL they run in-process when queued (config/celery.py)."""

from __future__ import annotations

from django.db import DatabaseError

from peercoach.config.celery import app


# A database hiccup while claiming the job is retried; failures during the export itself
# are caught by the service and recorded on the job (the requester asks again).
@app.task(name="research.export", acks_late=True, reject_on_worker_lost=True,
          autoretry_for=(DatabaseError,), retry_backoff=5, retry_backoff_max=300,
          retry_jitter=True, max_retries=5)
def run_export(job_id: int) -> str:
    from .exports.jobs import export_run

    return export_run(job_id=job_id)
