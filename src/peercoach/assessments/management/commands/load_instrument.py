"""`load_instrument FILE [--example]`: load a licensed instrument's item text.

A site that holds the licence for the BPI, a PROMIS short form, the PSEQ or the MOS
Social Support Survey writes its licensed text into a TOML file (see
`peercoach.assessments.licensed_text` and the placeholders in `assessments/samples/`);
until it is loaded, the instrument cannot be given. A file that fails any check is
refused with the reason on stderr, exit status 2, and nothing stored.

Failures end with SystemExit(2) rather than CommandError: `peercoach load-instrument`
runs this through `call_command`, which passes SystemExit on as an exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from peercoach.assessments import instruments, services
from peercoach.assessments.licensed_text import LicenceFileError, parse_licensed_text


class Command(BaseCommand):
    help = "Load a licensed questionnaire's item text from a TOML licence file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the licence file (TOML, UTF-8)")
        parser.add_argument(
            "--example", action="store_true",
            help="allow the shipped placeholder files (demo and tests only: their text is "
                 "not the real questionnaire)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._fail(f"Cannot read {path}: {exc.strerror or exc}.")
        try:
            licensed = parse_licensed_text(data, filename=path.name)
        except LicenceFileError as exc:
            self._fail(f"Not loaded: {exc}")
        if licensed.is_example and not options["example"]:
            self._fail(f"Not loaded: {path.name} is a placeholder example (licence holder "
                       f"\"{licensed.licence_holder}\"), not licensed text. Replace its "
                       "text with your licensed version, or pass --example for a demo.")
        previous = services.loaded_text(licensed.code)
        services.instrument_text_load(licensed=licensed, by=None)
        instrument = instruments.get(licensed.code)
        verb = "Replaced" if previous is not None else "Loaded"
        self.stdout.write(
            f"{verb} {instrument.short_name} ({licensed.code}): {len(licensed.items)} items, "
            f"licence holder {licensed.licence_holder}"
            + (f" ({licensed.licence_reference})" if licensed.licence_reference else "")
            + (f", {len(licensed.t_scores)} T-scores" if licensed.t_scores else "")
            + f". SHA-256 {licensed.sha256}.")
        if licensed.is_example:
            self.stderr.write("warning: this is placeholder text; never use it with real "
                              "patients.")
        self.stdout.write(f"{instrument.short_name} can now be given.")

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        raise SystemExit(2)
