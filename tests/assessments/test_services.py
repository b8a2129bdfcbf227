"""The assessment services the answering pages use: drafts, submission, versioned
corrections, missed questionnaires, PAM scores, and secure links (made, sent, opened,
stopped) without the token ever being stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from peercoach.assessments import services
from peercoach.assessments.licensed_text import parse_licensed_text, sample_file
from peercoach.assessments.models import (
    Assessment,
    AssessmentLink,
    AssessmentStatus,
    ExternalScore,
    ResponseVersion,
)
from peercoach.core.models import AuditEvent
from peercoach.notifications.channels import DeliveryError, LocalOutboxSMS, sms_provider
from peercoach.notifications.models import Notification

from ..factories import answer_all, open_assessment

PEG = {1: 6, 2: 5, 3: 7}


@pytest.fixture
def sms(settings: Any) -> Iterator[list[dict[str, str]]]:
    settings.SMS_PROVIDER = "memory"
    sms_provider.cache_clear()
    LocalOutboxSMS.outbox.clear()
    yield LocalOutboxSMS.outbox
    LocalOutboxSMS.outbox.clear()
    sms_provider.cache_clear()


def _url(token: str) -> str:
    return f"https://peercoach.example.org/assessments/q/{token}/"


# --- Drafts and submission -------------------------------------------------------------


def test_partial_answers_are_kept_and_attributed(world: Any) -> None:
    a = open_assessment(world.patient, "phq9")
    services.answer_save(assessment=a, answers={1: 1, 2: 0}, by=world.patient_user,
                         mode="self")
    a.refresh_from_db()
    assert a.status == AssessmentStatus.IN_PROGRESS and a.started_at is not None
    assert services.draft_answers(a) == {1: 1, 2: 0}
    assert a.draft["1"]["by"] == world.patient_user.pk and a.draft["1"]["mode"] == "self"
    # A link user is nobody: the answer is attributed to the patient through the link.
    services.answer_save(assessment=a, answers={3: 2}, by=None, mode="link")
    a.refresh_from_db()
    assert a.draft["3"]["by"] is None and a.draft["3"]["mode"] == "link"
    assert not ResponseVersion.objects.exists()


def test_an_answer_out_of_range_is_refused_and_nothing_saved(world: Any) -> None:
    a = open_assessment(world.patient, "phq9")
    with pytest.raises(ValidationError):
        services.answer_save(assessment=a, answers={1: 4}, by=world.patient_user, mode="self")
    with pytest.raises(ValidationError):
        services.answer_save(assessment=a, answers={11: 0}, by=world.patient_user, mode="self")
    a.refresh_from_db()
    assert a.draft == {} and a.status == AssessmentStatus.DUE


def test_submit_makes_version_1_and_clears_the_draft(world: Any) -> None:
    a = answer_all(open_assessment(world.patient, "peg"), PEG, by=world.patient_user)
    version = a.versions.get()
    assert version.number == 1 and a.version == 1
    assert version.answers == {"1": 6, "2": 5, "3": 7}
    assert version.total == pytest.approx(6.0) and a.total == pytest.approx(6.0)
    assert version.mode == "self" and version.submitted_by == world.patient_user
    assert a.status == AssessmentStatus.SUBMITTED and a.draft == {}
    with pytest.raises(ValidationError):  # sent in once; changes are corrections
        services.answer_save(assessment=a, answers={1: 2}, by=world.patient_user, mode="self")


def test_a_correction_is_version_2_and_version_1_stays(world: Any) -> None:
    a = answer_all(open_assessment(world.patient, "peg"), PEG, by=world.patient_user)
    v2 = services.correct(assessment=a, answers={1: 2, 2: 5, 3: 7}, by=world.coordinator,
                          mode="phone", reason="Misheard question 1 on the phone")
    a.refresh_from_db()
    v1 = a.versions.get(number=1)
    assert v2.number == 2 and a.version == 2
    assert v1.answers == {"1": 6, "2": 5, "3": 7} and v1.total == pytest.approx(6.0)
    assert v2.answers["1"] == 2 and a.total == pytest.approx(14 / 3)
    assert v2.submitted_by == world.coordinator and v2.reason.startswith("Misheard")
    # Unchanged answers keep who gave them and when; the changed one is the staff's.
    assert v2.answered["2"] == v1.answered["2"]
    assert v2.answered["1"]["by"] == world.coordinator.pk


def test_a_correction_needs_a_reason_and_staff(world: Any) -> None:
    a = answer_all(open_assessment(world.patient, "peg"), PEG, by=world.patient_user)
    with pytest.raises(ValidationError, match="why"):
        services.correct(assessment=a, answers={1: 2}, by=world.coordinator, mode="phone",
                         reason="   ")
    with pytest.raises(ValidationError):
        services.correct(assessment=a, answers={1: 2}, by=world.patient_user, mode="self",
                         reason="I changed my mind")
    assert a.versions.count() == 1


def test_a_submitted_version_is_never_changed_or_deleted(world: Any) -> None:
    a = answer_all(open_assessment(world.patient, "peg"), PEG, by=world.patient_user)
    version = a.versions.get()
    version.answers = {"1": 0, "2": 0, "3": 0}
    with pytest.raises(ValueError, match="never changed"):
        version.save()
    with pytest.raises(ValueError, match="kept"):
        version.delete()
    assert ResponseVersion.objects.get(pk=version.pk).answers == {"1": 6, "2": 5, "3": 7}


def test_mark_missed_needs_a_reason_and_an_open_questionnaire(world: Any) -> None:
    a = open_assessment(world.patient, "peg")
    with pytest.raises(ValidationError):
        services.mark_missed(assessment=a, by=world.coordinator, reason="")
    services.mark_missed(assessment=a, by=world.coordinator, reason="No answer after 3 calls")
    a.refresh_from_db()
    assert a.status == AssessmentStatus.MISSED
    with pytest.raises(ValidationError):
        services.mark_missed(assessment=a, by=world.coordinator, reason="again")


def test_pam_is_recorded_as_an_external_score_only(world: Any) -> None:
    row = services.external_score_record(
        patient=world.patient, instrument="pam", score=62.5, level=3,
        measured_on=dt.date(2026, 3, 1), source="Vendor portal", by=world.coordinator)
    assert ExternalScore.objects.get() == row
    with pytest.raises(ValidationError):
        services.external_score_record(
            patient=world.patient, instrument="pam", score=120, level=3,
            measured_on=dt.date(2026, 3, 1), source="Vendor portal", by=world.coordinator)
    with pytest.raises(ValidationError):  # PeerCoach scores the PEG itself
        services.external_score_record(
            patient=world.patient, instrument="peg", score=5, level=None,
            measured_on=dt.date(2026, 3, 1), source="x", by=world.coordinator)


# --- Licensed instruments ------------------------------------------------------------------


def test_bpi_cannot_be_given_until_its_text_is_loaded(world: Any) -> None:
    a = open_assessment(world.patient, "bpi_interference")
    reason = services.why_not_administrable("bpi_interference")
    assert reason is not None and "load-instrument" in reason
    with pytest.raises(ValidationError, match="licensed"):
        services.answer_save(assessment=a, answers={1: 3}, by=world.coordinator, mode="phone")

    licensed = parse_licensed_text(sample_file("bpi_interference"), filename="sample.toml")
    services.instrument_text_load(licensed=licensed, by=None)
    assert services.why_not_administrable("bpi_interference") is None
    assert services.instrument_for_use("bpi_interference").items[0].text == licensed.items[1]
    answer_all(a, {1: 3, 2: 4, 3: 5, 4: 6}, by=world.coordinator, mode="phone")
    assert a.total == pytest.approx(4.5) and a.status == AssessmentStatus.SUBMITTED


# --- Secure links ----------------------------------------------------------------------------


def _token_stored_anywhere(token: str) -> bool:
    """Is the token in any table a link touches (links, audit trail, outbox)?"""
    texts = [str(AuditEvent.objects.values_list("details", "path"))]
    texts += [str(list(AssessmentLink.objects.values()))]
    texts += [str(list(Notification.objects.values()))]
    return any(token in text for text in texts)


def test_a_link_opens_once(world: Any) -> None:
    open_assessment(world.patient)
    link, token = services.link_create(patient=world.patient, by=world.coordinator)
    assert link.token_hash != token and len(token) >= 40
    assert not _token_stored_anywhere(token)
    opened = services.link_open(token)
    assert opened.pk == link.pk and opened.used_at is not None
    with pytest.raises(services.LinkRefused, match="already been used") as refused:
        services.link_open(token)
    assert refused.value.status == 410


def test_wrong_expired_and_replaced_links_are_refused(world: Any) -> None:
    open_assessment(world.patient)
    with pytest.raises(services.LinkRefused, match="not valid") as wrong:
        services.link_open("not-a-token")
    assert wrong.value.status == 404
    first, first_token = services.link_create(patient=world.patient, by=world.coordinator)
    _, second_token = services.link_create(patient=world.patient, by=world.coordinator)
    with pytest.raises(services.LinkRefused, match="replaced"):
        services.link_open(first_token)
    later = timezone.now() + services.LINK_LIFETIME + dt.timedelta(minutes=1)
    with pytest.raises(services.LinkRefused, match="expired") as expired:
        services.link_open(second_token, now=later)
    assert expired.value.status == 410
    first.refresh_from_db()
    assert first.used_at is None  # refusing changes nothing


def test_no_link_without_a_questionnaire_due(world: Any) -> None:
    with pytest.raises(ValidationError, match="no questionnaire"):
        services.link_create(patient=world.patient, by=world.coordinator)


def test_a_stopped_link_no_longer_opens(world: Any) -> None:
    open_assessment(world.patient)
    link, token = services.link_create(patient=world.patient, by=world.coordinator)
    services.link_revoke(link=link, by=world.coordinator, reason="patient asked")
    with pytest.raises(services.LinkRefused):
        services.link_open(token)
    assert AuditEvent.objects.filter(target_type="assessmentlink", action="update",
                                     details__revoked=True).exists()


def test_link_sent_by_text_message_carries_only_the_link(world: Any, sms: Any) -> None:
    open_assessment(world.patient, "phq9")
    tokens: list[str] = []

    def url_for(token: str) -> str:
        tokens.append(token)
        return _url(token)

    link = services.link_send(patient=world.patient, by=world.coordinator, channel="sms",
                              url_for=url_for)
    assert link.sent_via == "sms"
    [text] = sms
    assert text["to"] == world.patient.phone
    assert _url(tokens[0]) in text["body"]
    assert "questionnaire to fill in" in text["body"]
    for word in ("PHQ", "depress", "pain", world.patient.first_name):
        assert word.lower() not in text["body"].lower()
    # Not through the outbox (it keeps bodies); the delivery is on the audit trail.
    assert not Notification.objects.exists()
    assert not _token_stored_anywhere(tokens[0])
    assert AuditEvent.objects.filter(target_type="assessmentlink", details__sent="sms").exists()
    assert services.link_open(tokens[0]).pk == link.pk


def test_link_sent_by_email(world: Any) -> None:
    open_assessment(world.patient)
    link = services.link_send(patient=world.patient, by=world.coordinator, channel="email",
                              url_for=_url)
    [message] = mail.outbox
    assert message.to == [world.patient.email] and "/assessments/q/" in message.body
    assert link.sent_via == "email"


def test_a_failed_sending_cancels_the_link(world: Any, monkeypatch: Any) -> None:
    open_assessment(world.patient)

    def refuse(message: Any) -> str:
        raise DeliveryError("provider down")

    monkeypatch.setattr("peercoach.notifications.channels.send_sms", refuse)
    with pytest.raises(ValidationError, match="could not be sent"):
        services.link_send(patient=world.patient, by=world.coordinator, channel="sms",
                           url_for=_url)
    link = AssessmentLink.objects.get()
    assert link.revoked_at is not None


def test_no_text_message_without_a_mobile_number(world: Any, sms: Any) -> None:
    open_assessment(world.patient)
    world.patient.phone = ""
    world.patient.save()
    with pytest.raises(ValidationError, match="mobile"):
        services.link_send(patient=world.patient, by=world.coordinator, channel="sms",
                           url_for=_url)
    assert not AssessmentLink.objects.exists() and not sms


def test_assessments_of_a_withdrawn_patient_are_not_open(world: Any) -> None:
    a = open_assessment(world.patient)
    services.cancel_open_for(world.patient, by=world.coordinator, reason="withdrew")
    assert Assessment.objects.get(pk=a.pk).status == AssessmentStatus.CANCELLED
