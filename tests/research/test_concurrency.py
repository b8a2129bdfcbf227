"""Allocations at the same moment: never the same slot, never the same patient twice.

On PostgreSQL (CI sets DATABASE_URL) the allocations really run in parallel threads,
each on its own connection, released together by a barrier. SQLite (in memory for
tests) has a single writer, so there the same calls run one after another: the unique
constraints are what is checked, as in tests/supervision/test_alerts.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from peercoach.research import services
from peercoach.research.models import Allocation

from ..factories import eligible_patient, two_arm_study

THREADS = 8


def _run_together(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    if connection.vendor == "sqlite":
        for call in calls:
            try:
                results.append(call())
            except Exception as exc:
                errors.append(exc)
        return results, errors
    barrier = threading.Barrier(len(calls))
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcome = call()
            with lock:
                results.append(outcome)
        except Exception as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def _randomizer(patient: Any, by: Any) -> Callable[[], Any]:
    return lambda: services.randomize(patient=patient, by=by).pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pregenerated", [True, False], ids=["stored-stratum", "new-stratum"])
def test_concurrent_allocations_in_one_stratum_never_share_a_slot(world, monkeypatch,
                                                                  pregenerated):
    if not pregenerated:  # the stratum is created by the first allocation: a race too
        monkeypatch.setattr(services, "PREGENERATE_MAX_STRATA", 0)
    study = two_arm_study(world.program_a, world.coordinator, strata=("gender",))
    patients = [eligible_patient(world.program_a, gender="female") for _ in range(THREADS)]
    results, errors = _run_together([_randomizer(p, world.coordinator) for p in patients])
    assert not errors, errors
    assert len(results) == THREADS
    allocations = list(Allocation.objects.filter(study=study).select_related("slot", "arm"))
    positions = sorted(a.slot.position for a in allocations)
    # Every slot taken once, and the first THREADS of them: no gaps, no sharing.
    assert positions == list(range(1, THREADS + 1))
    taken = [a.arm.code for a in sorted(allocations, key=lambda a: a.slot.position)]
    assert taken == services.stratum_sequence(study, "gender=female", THREADS)


@pytest.mark.django_db(transaction=True)
def test_the_same_patient_randomized_twice_at_once_is_allocated_once(world):
    study = two_arm_study(world.program_a, world.coordinator)
    patient = eligible_patient(world.program_a)
    results, errors = _run_together([_randomizer(patient, world.coordinator),
                                     _randomizer(patient, world.admin)])
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], ValidationError)
    assert "already randomized" in " ".join(errors[0].messages)
    assert Allocation.objects.filter(study=study, patient=patient).count() == 1
