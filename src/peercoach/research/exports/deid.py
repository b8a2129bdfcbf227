"""De-identification for exports, after the HIPAA Safe Harbor list (45 CFR 164.514(b)(2)).

What a de-identified export does with each kind of identifier:

* Names, phone and fax numbers, e-mail and street addresses, cities, referring
  clinicians, account names: left out.
* Record numbers: people appear under their study id (`P-…`, `C-…`), a random code that
  says nothing about them; staff, sites and programs under keyed pseudonyms
  (`S-…`, `site-…`, `program-…`). Database ids of people are never written.
* ZIP codes: the first three digits, or `000` for the three-digit areas with 20,000
  people or fewer (the 17 prefixes HHS lists from the 2000 census). State is kept.
* Dates of birth: an age in whole years instead; 90 and over become "90+".
* Every other date of a person (referral, enrollment, contacts, questionnaires, …): moved
  by that person's offset, a whole number of days from -182 to +182, never 0. The
  offset comes from an HMAC-SHA256 of the person's id under a secret
  (`EXPORT_DATE_SHIFT_SECRET`, or a key derived from `SECRET_KEY` when it is not set), so
  repeated exports agree: the same participant always moves by the same days, and
  intervals within one participant (days between contacts, time to follow-up) are
  exact. Intervals between two participants are not. Each table also gives "study day"
  columns: days since the participant's enrollment (or referral, before enrollment),
  computed from the real dates. Rows shared by a patient and a coach (pairs, contacts)
  follow the patient's timeline; a coach's own dates follow the coach's offset.
* Free text (notes, concerns, reasons, goals in the patient's words, safety summaries):
  left out, because it can hold any identifier.

Keep the secret away from whoever receives the files: with it the offsets can be
recomputed. Rotating it changes every offset (exports made before and after no longer
line up), so set `EXPORT_DATE_SHIFT_SECRET` once and keep it when `SECRET_KEY` rotates.

Strict Safe Harbor removes every date element but the year; shifted dates are not the
real dates, but a privacy officer may prefer the study-day columns alone. Identified
exports (only for roles that may see identities) keep everything above as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

#: Three-digit ZIP areas with 20,000 people or fewer (HHS, from the 2000 census):
#: Safe Harbor requires them to be written as 000.
RESTRICTED_ZIP3 = frozenset({
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
    "878", "879", "884", "890", "893",
})

#: Ages above this are written as "90+" (Safe Harbor: ages over 89).
MAX_AGE = 89
OLDEST = "90+"
#: Offsets run from -MAX_SHIFT to +MAX_SHIFT days, 0 excluded.
MAX_SHIFT = 182
_CACHE_LIMIT = 10_000


def shift_secret() -> bytes:
    """The key behind every offset and pseudonym (see the module docstring)."""
    from django.conf import settings

    configured = getattr(settings, "EXPORT_DATE_SHIFT_SECRET", "") or ""
    if configured:
        return str(configured).encode()
    # Derived, never the SECRET_KEY itself, so the two cannot be confused.
    return hmac.new(str(settings.SECRET_KEY).encode(), b"peercoach-export-date-shift",
                    hashlib.sha256).digest()


def age_on(born: dt.date | None, day: dt.date | None) -> int | None:
    if born is None or day is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_text(age: int | None) -> str | None:
    """An age as exported: whole years, or "90+" above 89."""
    if age is None:
        return None
    return OLDEST if age > MAX_AGE else str(age)


def zip3(zip_code: str | None) -> str | None:
    """The first three digits of a ZIP code, or 000 for the restricted areas."""
    digits = (zip_code or "").strip()[:3]
    if len(digits) != 3 or not digits.isdigit():
        return None
    return "000" if digits in RESTRICTED_ZIP3 else digits


def offset_for(secret: bytes, kind: str, pk: int) -> int:
    """Days to move every date of person `kind`:`pk`; from -182 to 182, never 0."""
    digest = hmac.new(secret, f"{kind}:{pk}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") % (2 * MAX_SHIFT)
    return n - MAX_SHIFT if n < MAX_SHIFT else n - MAX_SHIFT + 1


def pseudonym(secret: bytes, kind: str, pk: int, prefix: str, length: int = 8) -> str:
    digest = hmac.new(secret, f"pseudonym:{kind}:{pk}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:length].upper()}"


class Deidentifier:
    """Applies the rules above to one export (identified exports pass values through)."""

    def __init__(self, *, identified: bool, secret: bytes | None = None) -> None:
        self.identified = identified
        self.secret = secret if secret is not None else shift_secret()
        # Bounded, so memory stays flat however many participants an export holds.
        self._offsets: dict[tuple[str, int], int] = {}

    def offset(self, kind: str, pk: int) -> int:
        if self.identified:
            return 0
        key = (kind, pk)
        found = self._offsets.get(key)
        if found is None:
            if len(self._offsets) >= _CACHE_LIMIT:
                self._offsets.clear()
            found = self._offsets[key] = offset_for(self.secret, kind, pk)
        return found

    def date(self, value: dt.date | None, kind: str, pk: int) -> dt.date | None:
        if value is None or self.identified:
            return value
        return value + dt.timedelta(days=self.offset(kind, pk))

    def datetime(self, value: dt.datetime | None, kind: str, pk: int) -> dt.datetime | None:
        if value is None or self.identified:
            return value
        return value + dt.timedelta(days=self.offset(kind, pk))

    def site(self, pk: int, code: str) -> str:
        return code if self.identified else pseudonym(self.secret, "site", pk, "site", 6)

    def program(self, pk: int, name: str) -> str:
        return name if self.identified else pseudonym(self.secret, "program", pk, "program", 6)

    def staff(self, pk: int, username: str) -> str:
        return username if self.identified else pseudonym(self.secret, "staff", pk, "S")


def study_day(day: dt.date | dt.datetime | None, anchor: dt.date | None) -> int | None:
    """Days from the participant's day 0 (enrollment, or referral before it) to `day`."""
    if day is None or anchor is None:
        return None
    if isinstance(day, dt.datetime):
        from django.utils import timezone

        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    return (day - anchor).days


def anchor_of(enrolled_on: dt.date | None, referred_on: dt.date | None) -> dt.date | None:
    return enrolled_on or referred_on


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
