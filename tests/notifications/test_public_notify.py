"""The public helpers that reminder senders outside this app use."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from peercoach.notifications import services
from peercoach.notifications.models import Notification

from ..factories import UserFactory


@pytest.mark.parametrize(("days", "words"), [(-2, "today"), (0, "today"), (1, "tomorrow"),
                                             (3, "in 3 days")])
def test_when_phrase(days: int, words: str) -> None:
    today = dt.date(2024, 5, 1)
    assert services.when_phrase(today + dt.timedelta(days=days), today) == words


def test_notify_new_returns_only_what_this_call_created(
        db: Any, django_capture_on_commit_callbacks: Any) -> None:
    first, second = (UserFactory(email="a@example.org"), UserFactory(email="b@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        new = services.notify_new(recipients=[first], template="coach_contact_due",
                                  key="k:new", context={"when": "tomorrow"})
    assert [n.recipient_id for n in new] == [first.pk]
    with django_capture_on_commit_callbacks(execute=True):
        again = services.notify_new(recipients=[first, second], template="coach_contact_due",
                                    key="k:new", context={"when": "tomorrow"})
    assert [n.recipient_id for n in again] == [second.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notify_new(recipients=[first, second], template="coach_contact_due",
                                   key="k:new", context={"when": "tomorrow"}) == []
    assert Notification.objects.count() == 2
