"""`peercoach match`: one program (dry run, saved, confirmed) and every program at once."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from peercoach.matching.models import Match, Proposal
from peercoach.people.lifecycle import PatientStatus

from ..factories import CoachFactory, PatientFactory, ProgramFactory, UserFactory


def program_with_people(n_patients: int, n_coaches: int, **program_fields):
    program = ProgramFactory(**program_fields)
    coaches = [CoachFactory(program=program, capacity=1, pain_conditions=["low_back"],
                            service_era="vietnam") for _ in range(n_coaches)]
    patients = [PatientFactory(program=program, status=PatientStatus.ENROLLED,
                               pain_conditions=["low_back"], service_era="vietnam")
                for _ in range(n_patients)]
    return program, coaches, patients


def run(*args):
    out = StringIO()
    call_command("match", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def two_programs(db):
    first = program_with_people(3, 2)
    second = program_with_people(2, 2)
    return first, second


def test_dry_run_json_lists_pairs_and_who_waits_and_saves_nothing(two_programs):
    (program, coaches, patients), _ = two_programs
    result = json.loads(run("--program", str(program.pk), "--dry-run", "--json"))
    assert result["dry_run"] is True and result["proposal"] is None
    assert len(result["pairs"]) == 2
    assert {p["coach"] for p in result["pairs"]} == {c.pk for c in coaches}
    assert "Vietnam era" in result["pairs"][0]["explanation"]
    assert len(result["unmatched"]) == 1
    assert "More patients than free coach places" in result["unmatched"][0]["reason"]
    assert not Proposal.objects.exists()


def test_saving_needs_a_known_user_and_confirm_makes_matches(two_programs):
    (program, _, _), _ = two_programs
    with pytest.raises(CommandError, match="--user"):
        run("--program", str(program.pk))
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("--program", str(program.pk), "--user", "nobody")
    UserFactory(username="coord")
    text = run("--program", str(program.pk), "--user", "coord", "--confirm")
    assert "saved and confirmed" in text
    assert Proposal.objects.filter(program=program).count() == 1
    assert Match.objects.filter(patient__program=program).count() == 2


@pytest.mark.parametrize("args,message", [
    (["--program", "999999", "--dry-run"], "no program with id 999999"),
    (["--dry-run", "--confirm", "--program", "{pk}"], "cannot be combined"),
    (["--all-programs"], "add --dry-run"),
    (["--all-programs", "--dry-run", "--confirm"], "saves nothing"),
    (["--all-programs", "--dry-run", "--user", "coord"], "saves nothing"),
])
def test_bad_combinations_are_refused_and_change_nothing(two_programs, args, message):
    (program, _, _), _ = two_programs
    args = [a.replace("{pk}", str(program.pk)) for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Proposal.objects.exists() and not Match.objects.exists()


def test_program_and_all_programs_are_exclusive(two_programs):
    (program, _, _), _ = two_programs
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("--program", str(program.pk), "--all-programs", "--dry-run")


def test_all_programs_gives_each_active_program_what_it_gets_alone(two_programs):
    (first, _, _), (second, _, _) = two_programs
    inactive, _, _ = program_with_people(2, 1, is_active=False)
    together = json.loads(run("--all-programs", "--dry-run", "--json"))
    by_program = {r["program"]: r for r in together["programs"]}
    assert set(by_program) == {first.pk, second.pk}  # the inactive one is left out
    assert inactive.pk not in by_program
    for program in (first, second):
        alone = json.loads(run("--program", str(program.pk), "--dry-run", "--json"))
        assert by_program[program.pk]["pairs"] == alone["pairs"]
        assert by_program[program.pk]["unmatched"] == alone["unmatched"]
    assert len(by_program[first.pk]["pairs"]) == 2
    assert len(by_program[second.pk]["pairs"]) == 2
    text = run("--all-programs", "--dry-run")
    assert "Dry run over 2 active program(s): nothing saved." in text
    assert f"Program {first.pk} ({first.name}): 2 pair(s), 1 not matched." in text
    assert not Proposal.objects.exists()
