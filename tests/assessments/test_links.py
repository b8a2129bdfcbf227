"""Secure links through the pages: opening, the link's session, answering without a login,
refusals (wrong, used, expired, replaced, stopped), the rate limit, and staff making and
sending links."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from peercoach.assessments import link_views, services
from peercoach.assessments.models import Assessment, AssessmentLink
from peercoach.core.models import AuditEvent
from peercoach.notifications.channels import LocalOutboxSMS, sms_provider

from ..factories import open_assessment


@pytest.fixture(autouse=True)
def _fresh_rate_limit() -> Iterator[None]:
    # The failure counts live in the cache, which outlives a test's database.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def due(world: Any) -> Any:
    return open_assessment(world.patient, "peg")


def _link(world: Any, patient: Any = None) -> tuple[AssessmentLink, str]:
    return services.link_create(patient=patient or world.patient, by=world.coordinator)


def _open(token: str, client: Client | None = None, ip: str = "203.0.113.7") -> Any:
    """Press Start on the link's page (that is what uses the link up)."""
    client = client or Client()
    return client.post(f"/assessments/q/{token}/", REMOTE_ADDR=ip)


def test_looking_at_a_link_does_not_use_it_up(world: Any, due: Any) -> None:
    link, token = _link(world)
    client = Client()
    page = client.get(f"/assessments/q/{token}/", REMOTE_ADDR="203.0.113.7")
    assert page.status_code == 200 and "Start" in page.content.decode()
    assert AssessmentLink.objects.get(pk=link.pk).used_at is None
    assert link_views.SESSION_KEY not in client.session
    assert client.get("/assessments/q/" + "w" * 43 + "/").status_code == 404
    assert _open(token, client).status_code == 302
    assert client.get(f"/assessments/q/{token}/").status_code == 410


def test_opening_a_link_keeps_only_ids_and_a_time_in_the_session(world: Any, due: Any) -> None:
    link, token = _link(world)
    client = Client()
    response = _open(token, client)
    assert response.status_code == 302 and response["Location"] == "/assessments/link/"
    data = client.session[link_views.SESSION_KEY]
    assert set(data) == {"link", "patient", "until"}
    assert data["link"] == link.pk and data["patient"] == world.patient.pk
    until = parse_datetime(data["until"])
    assert until is not None
    assert until <= timezone.now() + services.LINK_SESSION
    assert token not in str(dict(client.session.items()))
    home = client.get("/assessments/link/")
    assert home.status_code == 200
    assert "Pain, Enjoyment of life" in home.content.decode()
    assert AssessmentLink.objects.get(pk=link.pk).used_at is not None


def test_the_session_ends_when_the_link_expires_sooner(world: Any, due: Any) -> None:
    link, token = _link(world)
    soon = timezone.now() + dt.timedelta(minutes=30)
    AssessmentLink.objects.filter(pk=link.pk).update(expires_at=soon)
    client = Client()
    _open(token, client)
    assert parse_datetime(client.session[link_views.SESSION_KEY]["until"]) == soon


def test_answering_through_a_link_is_attributed_to_the_link(world: Any, due: Any) -> None:
    _, token = _link(world)
    client = Client()
    _open(token, client)
    url = f"/assessments/link/{due.pk}/"
    screen = client.get(url).content.decode()
    assert "Question 1 of 3" in screen and "In the past week" in screen
    for q, value in ((1, 3), (2, 2)):
        assert client.post(url, {"q": q, "answer": value}).status_code == 302
    due.refresh_from_db()
    assert due.draft["1"]["mode"] == "link" and due.draft["1"]["by"] is None
    client.post(url, {"q": 3, "answer": 1})
    done = client.post(f"/assessments/link/{due.pk}/review/")
    assert done["Location"] == f"/assessments/link/{due.pk}/done/"
    version = Assessment.objects.get(pk=due.pk).versions.get()
    assert version.mode == "link" and version.submitted_by is None
    page = client.get(done["Location"]).content.decode()
    assert "Your answers are sent in" in page and "I have finished" in page
    finished = client.post("/assessments/link/finish/")
    assert finished.status_code == 200
    assert link_views.SESSION_KEY not in client.session
    assert client.get("/assessments/link/").status_code == 403


def test_a_used_link_is_refused_and_changes_nothing(world: Any, due: Any) -> None:
    link, token = _link(world)
    _open(token)
    used_at = AssessmentLink.objects.get(pk=link.pk).used_at
    second = Client()
    response = _open(token, second)
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert link_views.SESSION_KEY not in second.session
    assert AssessmentLink.objects.get(pk=link.pk).used_at == used_at


def test_a_wrong_token_is_not_found(world: Any, due: Any) -> None:
    response = _open("x" * 43)
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


def test_an_expired_link_is_gone(world: Any, due: Any) -> None:
    link, token = _link(world)
    AssessmentLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = _open(token)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert AssessmentLink.objects.get(pk=link.pk).used_at is None


def test_a_replaced_link_is_gone(world: Any, due: Any) -> None:
    _, first = _link(world)
    _link(world)
    response = _open(first)
    assert response.status_code == 410 and "replaced" in response.content.decode()


def test_stopping_a_link_ends_its_session(world: Any, due: Any) -> None:
    _, token = _link(world)
    client = Client()
    _open(token, client)
    assert client.get(f"/assessments/link/{due.pk}/").status_code == 200
    staff = Client()
    staff.force_login(world.coordinator)
    stopped = staff.post(f"/assessments/patients/{world.patient.pk}/link/stop/")
    assert stopped.status_code == 302
    response = client.get(f"/assessments/link/{due.pk}/")
    assert response.status_code == 403 and "ended" in response.content.decode()
    assert client.post(f"/assessments/link/{due.pk}/", {"q": 1, "answer": 2}).status_code == 403
    assert Assessment.objects.get(pk=due.pk).draft == {}


def test_the_link_session_expires(world: Any, due: Any) -> None:
    _, token = _link(world)
    client = Client()
    _open(token, client)
    session = client.session
    data = session[link_views.SESSION_KEY]
    data["until"] = (timezone.now() - dt.timedelta(seconds=1)).isoformat()
    session[link_views.SESSION_KEY] = data
    session.save()
    response = client.get(f"/assessments/link/{due.pk}/")
    assert response.status_code == 403
    assert "time to answer has ended" in response.content.decode()
    assert link_views.SESSION_KEY not in client.session


def test_without_a_link_the_link_pages_are_closed(world: Any, due: Any) -> None:
    client = Client()
    for url in ("/assessments/link/", f"/assessments/link/{due.pk}/",
                f"/assessments/link/{due.pk}/review/", f"/assessments/link/{due.pk}/done/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "open the link you were sent" in response.content.decode()


def test_a_link_reaches_only_its_own_patients_questionnaires(world: Any, due: Any) -> None:
    theirs = open_assessment(world.other_patient, "peg")
    _, token = _link(world)
    client = Client()
    _open(token, client)
    assert "Pain, Enjoyment" in client.get("/assessments/link/").content.decode()
    for url in (f"/assessments/link/{theirs.pk}/", f"/assessments/link/{theirs.pk}/review/",
                f"/assessments/link/{theirs.pk}/done/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/assessments/link/{theirs.pk}/", {"q": 1, "answer": 2}).status_code == 404
    assert client.post(f"/assessments/link/{theirs.pk}/review/").status_code == 404
    # Nor the signed-in patient's pages or staff pages: a link is not a login.
    assert client.get(f"/assessments/me/{due.pk}/").status_code == 302
    assert client.get(f"/assessments/patients/{world.patient.pk}/").status_code == 302
    assert Assessment.objects.get(pk=theirs.pk).draft == {}


def test_wrong_links_are_rate_limited_per_address(world: Any, due: Any) -> None:
    link, token = _link(world)
    for _ in range(link_views.FAIL_LIMIT):
        assert _open("wrong-" + "y" * 40).status_code == 404
    blocked = _open(token)
    assert blocked.status_code == 429
    assert "Too many links" in blocked.content.decode()
    assert int(blocked["Retry-After"]) == 15 * 60
    assert AssessmentLink.objects.get(pk=link.pk).used_at is None  # not used up
    # Another address is not blocked.
    assert _open(token, ip="198.51.100.20").status_code == 302


def test_nine_failures_do_not_block(world: Any, due: Any) -> None:
    _, token = _link(world)
    for _ in range(link_views.FAIL_LIMIT - 1):
        _open("wrong-" + "z" * 40)
    assert _open(token).status_code == 302


def test_the_token_is_not_kept_in_the_audit_trail(world: Any, due: Any) -> None:
    _, token = _link(world)
    _open(token)
    opened = AuditEvent.objects.get(target_type="assessmentlink", action="view")
    assert token not in opened.path and "[token hidden]" in opened.path
    assert not any(token in str(row) for row in AuditEvent.objects.values())


# --- Staff make and send links ---------------------------------------------------------------


@pytest.fixture
def staff_client(world: Any) -> Client:
    client = Client()
    client.force_login(world.coordinator)
    return client


def test_staff_see_a_link_once(world: Any, due: Any, staff_client: Client) -> None:
    url = f"/assessments/patients/{world.patient.pk}/link/"
    form = staff_client.get(url).content.decode()
    assert "Show it to me once" in form and "by text message" in form and "by e-mail" in form
    response = staff_client.post(url, {"how": "show"})
    body = response.content.decode()
    assert response.status_code == 200 and "only time the link is shown" in body
    assert "no-store" in response["Cache-Control"]
    link = AssessmentLink.objects.get()
    start = body.index("/assessments/q/") + len("/assessments/q/")
    token = body[start:body.index("/", start)]
    assert services._hash(token) == link.token_hash
    assert token not in staff_client.get(url).content.decode()  # never again
    assert _open(token).status_code == 302


def test_staff_send_a_link_by_text_message(world: Any, due: Any, staff_client: Client,
                                           settings: Any) -> None:
    settings.SMS_PROVIDER = "memory"
    settings.PEERCOACH_SITE_URL = "https://peercoach.example.org/"
    sms_provider.cache_clear()
    LocalOutboxSMS.outbox.clear()
    try:
        response = staff_client.post(f"/assessments/patients/{world.patient.pk}/link/",
                                     {"how": "sms"})
        assert response.status_code == 302
        [text] = LocalOutboxSMS.outbox
        assert "https://peercoach.example.org/assessments/q/" in text["body"]
        page = staff_client.get(response["Location"]).content.decode()
        assert "sent by text message" in page and "Stop the link" in page
    finally:
        LocalOutboxSMS.outbox.clear()
        sms_provider.cache_clear()


def test_no_link_when_nothing_is_due(world: Any, staff_client: Client) -> None:
    url = f"/assessments/patients/{world.patient.pk}/link/"
    assert "Nothing can be answered now" in staff_client.get(url).content.decode()
    response = staff_client.post(url, {"how": "show"})
    assert response.status_code == 200 and not AssessmentLink.objects.exists()


@pytest.mark.parametrize("role", ["coach", "researcher", "clinician", "patient"])
def test_only_staff_who_administer_make_links(world: Any, due: Any, role: str) -> None:
    client = Client()
    client.force_login(world.users()[role])
    url = f"/assessments/patients/{world.patient.pk}/link/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"how": "show"}).status_code == 403
    assert not AssessmentLink.objects.exists()


def test_staff_of_another_site_cannot_make_a_link(world: Any) -> None:
    open_assessment(world.patient_b)
    client = Client()
    client.force_login(world.coordinator)
    assert client.post(f"/assessments/patients/{world.patient_b.pk}/link/",
                       {"how": "show"}).status_code == 404
    assert not AssessmentLink.objects.exists()
