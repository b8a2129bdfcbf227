"""Staff retry failed deliveries: the same row back in the outbox, sent once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from peercoach.core.models import AuditEvent
from peercoach.notifications import services
from peercoach.notifications.models import Notification, Status

FAILING = "tests.notifications.test_services.FailingBackend"


def _failed(world: Any, settings: Any, *, site: Any = None, key: str = "f") -> Notification:
    """A reminder to the world's coach that the mail server refused for good."""
    settings.EMAIL_BACKEND = FAILING
    settings.NOTIFY_MAX_ATTEMPTS = 1
    if not world.coach_user.email:
        world.coach_user.email = "coach@example.org"
        world.coach_user.save()
    [row] = services.notify(recipients=[world.coach_user], template="coach_contact_due",
                            key=key, site_id=(site or world.site_a).pk)
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    row.refresh_from_db()
    assert row.status == Status.FAILED
    return row


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_retry_requeues_the_same_row_which_the_dispatcher_sends_once(
        world: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    row = _failed(world, settings)
    url = reverse("notifications:retry", args=[row.pk])
    client = _client(world.supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse(
        "notifications:failed")
    again = Notification.objects.get()
    assert again.pk == row.pk and again.idempotency_key == row.idempotency_key
    # Handed to the channel by the job the retry queued (in-process without Redis).
    assert again.status == Status.SENT and again.attempts == 1 and again.last_error == ""
    assert again.retried_by == world.supervisor and again.retried_at is not None
    assert len(mail.outbox) == 1
    [event] = AuditEvent.objects.filter(target_type="notification", target_id=str(row.pk))
    assert event.actor == world.supervisor and event.details["retried"] is True
    assert event.details["status"] == ["failed", "queued"]
    # A second click (or a stale page) changes nothing and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(url, follow=True)
    assert "has been sent; nothing was changed" in second.content.decode()
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(target_type="notification").count() == 1
    # The sweeper and a duplicated job find nothing left to send.
    assert services.notifications_sweep() == 0
    assert services.notification_deliver(notification_id=row.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_a_double_retry_before_the_job_runs_sends_once(world: Any, settings: Any) -> None:
    row = _failed(world, settings)
    services.notification_retry(notification_id=row.pk, by=world.supervisor)
    with pytest.raises(ValidationError, match="already waiting"):
        services.notification_retry(notification_id=row.pk, by=world.coordinator)
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 0 and row.due_at <= timezone.now()
    assert row.retried_by == world.supervisor
    # Two jobs for the row (the retry's and the sweeper's): one sends, one skips.
    results = [services.notification_deliver(notification_id=row.pk) for _ in range(2)]
    assert sorted(results) == ["sent", "skipped"]
    assert len(mail.outbox) == 1 and Notification.objects.count() == 1
    assert AuditEvent.objects.filter(target_type="notification").count() == 1


def test_retry_is_refused_for_rows_not_failed_and_404_outside_the_users_sites(
        world: Any, settings: Any) -> None:
    mine = _failed(world, settings, key="a")
    theirs = _failed(world, settings, site=world.site_b, key="b")
    Notification.objects.filter(pk=mine.pk).update(status=Status.RETRYING)
    client = _client(world.coordinator)
    response = client.post(reverse("notifications:retry", args=[mine.pk]), follow=True)
    assert "already waiting to be sent" in response.content.decode()
    assert client.post(reverse("notifications:retry", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:retry", args=[999999])).status_code == 404
    with pytest.raises(ValidationError, match="not one of your sites"):
        services.notification_retry(notification_id=theirs.pk, by=world.coordinator)
    for row, status in ((mine, Status.RETRYING), (theirs, Status.FAILED)):
        row.refresh_from_db()
        assert row.status == status and row.retried_by is None
    assert not AuditEvent.objects.filter(target_type="notification").exists()
    assert len(mail.outbox) == 0


def test_retry_all_shown(world: Any, settings: Any,
                         django_capture_on_commit_callbacks: Any) -> None:
    first, second = _failed(world, settings, key="1"), _failed(world, settings, key="2")
    waiting = _failed(world, settings, key="3")
    Notification.objects.filter(pk=waiting.pk).update(status=Status.RETRYING)
    elsewhere = _failed(world, settings, site=world.site_b, key="4")
    client = _client(world.supervisor)
    page = client.get(reverse("notifications:failed"))
    assert page.context["failed_ids"] == [second.pk, first.pk]
    assert "Retry all 2 failed messages shown" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("notifications:retry_shown"),
                               {"id": [first.pk, second.pk, waiting.pk, elsewhere.pk, "x"]},
                               follow=True)
    body = response.content.decode()
    assert "2 messages are back in the outbox" in body
    assert "2 messages were not retried" in body
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses == {first.pk: Status.SENT, second.pk: Status.SENT,
                        waiting.pk: Status.RETRYING, elsewhere.pk: Status.FAILED}
    assert len(mail.outbox) == 2
    empty = client.post(reverse("notifications:retry_shown"), {}, follow=True)
    assert "no failed message to retry" in empty.content.decode()


def test_retry_answers_htmx_with_the_row(world: Any, settings: Any,
                                         django_capture_on_commit_callbacks: Any) -> None:
    row = _failed(world, settings)
    client = _client(world.supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("notifications:retry", args=[row.pk]),
                               HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith("<tr")
    # The row as the view saw it: queued (the job runs after the commit; in a test, when
    # the captured callbacks run).
    assert f'id="delivery-{row.pk}"' in body and "Queued" in body
    assert "Back in the outbox" in body and "Retried by" in body
    assert f'hx-post="{reverse("notifications:retry", args=[row.pk])}"' not in body
    row.refresh_from_db()
    assert row.status == Status.SENT
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("notifications:retry", args=[row.pk]),
                            HTTP_HX_REQUEST="true")
    assert "nothing was changed" in again.content.decode()
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("role", ["coach", "patient", "clinician", "researcher"])
def test_retry_is_forbidden_without_the_permission(world: Any, settings: Any,
                                                   role: str) -> None:
    row = _failed(world, settings)
    client = _client(world.users()[role])
    assert client.post(reverse("notifications:retry", args=[row.pk])).status_code == 403
    assert client.post(reverse("notifications:retry_shown"), {"id": [row.pk]}
                       ).status_code == 403
    row.refresh_from_db()
    assert row.status == Status.FAILED


def test_retry_needs_post_and_a_login(world: Any, settings: Any) -> None:
    row = _failed(world, settings)
    url = reverse("notifications:retry", args=[row.pk])
    assert _client(world.supervisor).get(url).status_code == 405
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(world.supervisor)
    assert csrf.post(url).status_code == 403  # no CSRF token
    row.refresh_from_db()
    assert row.status == Status.FAILED
