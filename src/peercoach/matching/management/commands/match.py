"""`peercoach match --program ID [--dry-run] [--json] [--confirm] [--user NAME]`.

`peercoach match --all-programs --dry-run [--json]` proposes for every active program at
once (each matched within itself), several programs in parallel, and saves nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from peercoach.core.audit import RequestInfo, reset_request_info, set_request_info
from peercoach.matching import proposals
from peercoach.programs.models import Program


class Command(BaseCommand):
    help = "Propose coach-patient matches for a program (and optionally confirm them)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--program", type=int, help="program id")
        which.add_argument("--all-programs", action="store_true",
                           help="every active program at once (with --dry-run only)")
        parser.add_argument("--dry-run", action="store_true",
                            help="compute and show the proposal, save nothing")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--confirm", action="store_true",
                            help="confirm the proposal at once (not with --dry-run)")
        parser.add_argument("--user", help="username recorded as proposer (needed to save)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all_programs"]:
            self._all_programs(options)
            return
        program = Program.objects.filter(pk=options["program"]).first()
        if program is None:
            raise CommandError(f"There is no program with id {options['program']}.")
        if options["dry_run"] and options["confirm"]:
            raise CommandError("--confirm cannot be combined with --dry-run.")
        token = set_request_info(RequestInfo(via="cli"))
        try:
            result = self._run(program, options)
        finally:
            reset_request_info(token)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._print(result)

    def _all_programs(self, options: dict[str, Any]) -> None:
        if not options["dry_run"]:
            raise CommandError(
                "--all-programs only computes (add --dry-run): a saved proposal is made "
                "program by program, each with its coordinator's locks (--program ID --user).")
        if options["confirm"] or options["user"]:
            raise CommandError("--all-programs --dry-run saves nothing: leave out --confirm "
                               "and --user.")
        programs = list(Program.objects.filter(is_active=True).order_by("pk"))
        token = set_request_info(RequestInfo(via="cli"))
        try:
            plans = proposals.plan_programs(programs)
        finally:
            reset_request_info(token)
        results = [self._result(program.pk, None, options,
                                [(p.patient, p.coach, p.score, p.explanation, p.state)
                                 for p in plans[program.pk].pairs],
                                plans[program.pk].unmatched)
                   for program in programs]
        if options["json"]:
            self.stdout.write(json.dumps({"dry_run": True, "programs": results}, indent=2))
            return
        self.stdout.write(f"Dry run over {len(programs)} active program(s): nothing saved.")
        for program, result in zip(programs, results, strict=True):
            self.stdout.write(f"Program {program.pk} ({program.name}): "
                              f"{len(result['pairs'])} pair(s), "
                              f"{len(result['unmatched'])} not matched.")

    def _run(self, program: Program, options: dict[str, Any]) -> dict[str, Any]:
        if options["dry_run"]:
            plan = proposals.plan_matches(program)
            pairs = [(p.patient, p.coach, p.score, p.explanation, p.state) for p in plan.pairs]
            unmatched = plan.unmatched
            saved = None
        else:
            if not options["user"]:
                raise CommandError("Say who is proposing with --user USERNAME (it is audited).")
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user '{options['user']}'.")
            proposal = proposals.proposal_propose(program=program, by=user)
            rows = proposal.pairs.exclude(state="rejected").select_related("patient", "coach")
            pairs = [(p.patient, p.coach, p.score, p.explanation, p.state) for p in rows]
            unmatched = [(u.patient, u.reason)
                         for u in proposal.unmatched.select_related("patient")]
            saved = proposal.pk
            if options["confirm"]:
                try:
                    proposals.proposal_confirm(proposal=proposal, by=user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
        return self._result(program.pk, saved, options, pairs, unmatched)

    @staticmethod
    def _result(program_id: int, saved: int | None, options: dict[str, Any],
                pairs: list[Any], unmatched: list[Any]) -> dict[str, Any]:
        return {
            "program": program_id, "proposal": saved, "dry_run": options["dry_run"],
            "confirmed": bool(options["confirm"]),
            "pairs": [{"patient": p.pk, "patient_study_id": p.study_id, "coach": c.pk,
                       "coach_study_id": c.study_id, "score": score, "state": state,
                       "explanation": text} for p, c, score, text, state in pairs],
            "unmatched": [{"patient": p.pk, "patient_study_id": p.study_id, "reason": reason}
                          for p, reason in unmatched],
        }

    def _print(self, result: dict[str, Any]) -> None:
        head = "Dry run: nothing saved." if result["dry_run"] else (
            f"Proposal {result['proposal']} saved"
            + (" and confirmed." if result["confirmed"] else "; confirm it on the web page."))
        self.stdout.write(head)
        self.stdout.write(f"{len(result['pairs'])} pair(s):")
        for pair in result["pairs"]:
            self.stdout.write(f"  coach {pair['coach_study_id']} + patient "
                              f"{pair['patient_study_id']}  score {pair['score']:.2f}  "
                              f"{pair['explanation']}")
        if result["unmatched"]:
            self.stdout.write(f"{len(result['unmatched'])} not matched:")
            for item in result["unmatched"]:
                self.stdout.write(f"  patient {item['patient_study_id']}: {item['reason']}")
