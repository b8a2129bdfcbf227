"""Query counts of the busiest pages, pinned, and proven not to grow with the data.

Lists paginate ids first (core.api.IdsFirstPaginator): one query for the page's ids,
one for those rows in full.

Each case is measured with N extra rows of everything the page lists, then with 3N:
the count must be the pinned number both times. A page that does one query per row
(N+1) fails the second measurement. When a count changes on purpose, re-pin it here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from peercoach.supervision.models import SafetyEvent

from ..factories import CoachFactory, PatientFactory, pair

#: Rows added before the first measurement; the second is taken with 3N.
#: Small enough that 3N rows fit on one page (PEERCOACH_PAGE_SIZE 25, home caps 10/20).
N = 3


def grow(world: Any, n: int) -> None:
    """Add n of each kind of row the measured pages show, visible to every role."""
    for _ in range(n):
        # Site A, referred by the clinician and paired with world.coach: on the lists of
        # staff, the clinician and the coach, and on their home pages.
        referred = PatientFactory(program=world.program_a, referred_by=world.clinician,
                                  referral_source="clinician")
        pair(referred, world.coach, world.coordinator)
        coach = CoachFactory(program=world.program_a)
        other = PatientFactory(program=world.program_a)
        pair(other, coach, world.coordinator)
        for subject in ({"patient": referred}, {"coach": coach}):
            SafetyEvent.objects.create(site=world.site_a, source="note", summary="Check in",
                                       raised_by=world.supervisor, raised_at=timezone.now(),
                                       **subject)


def rows_shown(response: Any) -> int:
    if response["Content-Type"].startswith("application/json"):
        return len(response.json()["results"])
    if response.context.get("page") is not None:
        return len(response.context["page"].object_list)
    return sum(len(section["items"]) for section in response.context["sections"])


HOME, PATIENTS, COACHES = "/", "/people/patients/", "/people/coaches/"
API_PATIENTS, API_COACHES = "/api/v1/patients/", "/api/v1/coaches/"
STAFF = ("site_admin", "coordinator", "supervisor", "researcher")

#: (url, role, pinned query count, whether the rows shown grow with the data)
CASES: list[tuple[str, str, int, bool]] = [
    (HOME, "site_admin", 8, True),  # overview + open safety events
    (HOME, "coordinator", 8, True),
    (HOME, "supervisor", 8, True),
    (HOME, "researcher", 7, False),  # counts only: the same four lines
    (HOME, "clinician", 6, True),  # their referrals
    (HOME, "coach", 6, True),  # their patients
    (HOME, "patient", 13, False),  # patient home; its own rows grow in test_query_counts_more
    *[(PATIENTS, role, 9, True) for role in STAFF],
    (PATIENTS, "clinician", 8, True),
    (PATIENTS, "coach", 8, True),
    *[(COACHES, role, 9, True) for role in STAFF],
    *[(API_PATIENTS, role, 8, True) for role in (*STAFF, "clinician", "coach")],
    *[(API_COACHES, role, 8, True) for role in STAFF],
]


@pytest.mark.parametrize(("url", "role", "queries", "grows"), CASES,
                         ids=[f"{url}-{role}" for url, role, _, _ in CASES])
def test_query_count_is_pinned_and_constant(world: Any, django_assert_num_queries: Any,
                                            url: str, role: str, queries: int,
                                            grows: bool) -> None:
    client = Client()
    client.force_login(world.users()[role])

    grow(world, N)
    with django_assert_num_queries(queries):
        small = client.get(url)
    assert small.status_code == 200

    grow(world, 2 * N)  # now 3N
    with django_assert_num_queries(queries):
        large = client.get(url)
    assert large.status_code == 200

    if grows:  # the second page really showed more rows, so the count was tested
        assert rows_shown(large) > rows_shown(small)


@pytest.mark.parametrize(("url", "status"), [(PATIENTS, "enrolled"), (COACHES, "active")])
def test_htmx_rows_partial_is_constant(world: Any, django_assert_num_queries: Any,
                                       url: str, status: str) -> None:
    """The filter box re-renders only the rows (HX-Request): same queries, any size."""
    client = Client()
    client.force_login(world.coordinator)
    grow(world, N)
    with django_assert_num_queries(9):
        small = client.get(url, {"status": status}, HTTP_HX_REQUEST="true")
    grow(world, 2 * N)
    with django_assert_num_queries(9):
        large = client.get(url, {"status": status}, HTTP_HX_REQUEST="true")
    assert b"<html" not in large.content
    assert rows_shown(large) > rows_shown(small)
