"""Message templates. Plain text, and never any health information.

A message says *that* something is due or waiting, never *what* or *whom* it is about:
no names, conditions, scores, summaries or dates of care. Placeholders are limited to
the few harmless words in `ALLOWED_FIELDS`, and `render` refuses anything else, so a
caller cannot slip a patient's name into a message by accident.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

#: The only placeholders a template may use.
ALLOWED_FIELDS = frozenset({"when", "sign_in_url"})

NO_PHI_FOOTER = "This message holds no health information."


@dataclass(frozen=True)
class Template:
    key: str
    subject: str
    body: str
    #: The text message: short (one SMS segment where possible).
    sms: str


TEMPLATES: dict[str, Template] = {t.key: t for t in (
    Template(
        key="safety_urgent",
        subject="PeerCoach: an urgent safety event needs you now",
        body=("An urgent safety event is waiting for you in PeerCoach. Please sign in now "
              "to see it and acknowledge it.\n\n{sign_in_url}\n\n" + NO_PHI_FOOTER),
        sms="PeerCoach: an urgent safety event is waiting for you. Please sign in now.",
    ),
    Template(
        key="safety_escalated",
        subject="PeerCoach: an urgent safety event has not been acknowledged",
        body=("An urgent safety event at your site has not been acknowledged in time and "
              "has been passed to you. Please sign in now to see it.\n\n{sign_in_url}\n\n"
              + NO_PHI_FOOTER),
        sms="PeerCoach: an urgent safety event was passed to you. Please sign in now.",
    ),
    Template(
        key="coach_contact_due",
        subject="PeerCoach: a call is due {when}",
        body=("One of your PeerCoach calls is due {when}. Your call sheet shows the "
              "details once you sign in.\n\n{sign_in_url}\n\n" + NO_PHI_FOOTER),
        sms="PeerCoach: one of your calls is due {when}. Sign in to see your call sheet.",
    ),
    Template(
        key="patient_contact_planned",
        subject="PeerCoach: your coach plans to talk with you {when}",
        body=("Your PeerCoach coach plans to be in touch {when}. If that time no longer "
              "suits you, let your coach or the program know.\n\n" + NO_PHI_FOOTER),
        sms="PeerCoach: your coach plans to be in touch {when}.",
    ),
    Template(
        key="patient_questionnaire_due",
        subject="PeerCoach: a few short questions are waiting for you",
        body=("Your pain program has a few short questions for you, due {when}. Sign in to "
              "answer them; it takes about five minutes.\n\n{sign_in_url}\n\n"
              + NO_PHI_FOOTER),
        sms="PeerCoach: a few short questions are waiting for you, due {when}. Please sign in.",
    ),
    Template(
        key="patient_questionnaire_call",
        subject="PeerCoach: your program will ask you a few short questions",
        body=("Your pain program would like to ask you a few short questions, due {when}. "
              "Someone from the program will call you or send you a link. You can also call "
              "the program to do it over the phone.\n\n" + NO_PHI_FOOTER),
        sms="PeerCoach: your program will call or send a link for a few short questions, "
            "due {when}.",
    ),
)}


class TemplateError(ValueError):
    pass


def fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def render(key: str, context: dict[str, str] | None = None) -> tuple[str, str, str]:
    """(subject, e-mail body, SMS text) of template `key` filled with `context`."""
    try:
        template = TEMPLATES[key]
    except KeyError:
        raise TemplateError(f"No message template {key!r}.") from None
    context = dict(context or {})
    extra = set(context) - ALLOWED_FIELDS
    if extra:
        raise TemplateError(f"Templates take no {sorted(extra)}: messages carry no details.")
    from django.conf import settings

    context.setdefault("sign_in_url", getattr(settings, "PEERCOACH_SITE_URL", "") or "")
    context.setdefault("when", "soon")
    body = template.body.format(**context)
    body = "\n\n".join(part for part in body.split("\n\n") if part.strip())
    return template.subject.format(**context), body, template.sms.format(**context)
