"""`peercoach load-instrument FILE` (the `load_instrument` command): a licensed site loads
its item text; a bad file is refused with the reason, exit status 2, nothing stored."""

from __future__ import annotations

from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from peercoach import cli
from peercoach.assessments import services
from peercoach.assessments.models import InstrumentText
from peercoach.core.models import AuditEvent

SAMPLES = Path(str(resources.files("peercoach.assessments").joinpath("samples")))


def _run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("load_instrument", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_the_sample_file_loads_and_bpi_can_then_be_given() -> None:
    assert services.why_not_administrable("bpi_interference") is not None
    code, out, err = _run(str(SAMPLES / "bpi_interference.toml"), "--example")
    assert code == 0, err
    assert "Loaded BPI interference (bpi_interference): 7 items" in out
    assert "can now be given" in out and "placeholder" in err
    row = InstrumentText.objects.get(code="bpi_interference")
    assert row.loaded_by is None and len(row.items) == 7 and len(row.sha256) == 64
    assert services.why_not_administrable("bpi_interference") is None
    assert AuditEvent.objects.filter(action="import", target_type="instrumenttext",
                                     via="cli").exists()
    again = _run(str(SAMPLES / "bpi_interference.toml"), "--example")
    assert again[0] == 0 and again[1].startswith("Replaced")
    assert InstrumentText.objects.count() == 1


@pytest.mark.django_db
def test_every_sample_file_loads() -> None:
    files = sorted(SAMPLES.glob("*.toml"))
    assert len(files) >= 8
    for path in files:
        code, out, err = _run(str(path), "--example")
        assert code == 0, f"{path.name}: {err}"
    promis = InstrumentText.objects.get(code="promis_pi_4a")
    assert len(promis.t_scores) == 17  # raw sums 4 to 20
    assert services.t_score_table("promis_pi_4a") is not None


@pytest.mark.django_db
def test_a_placeholder_file_needs_example() -> None:
    code, out, err = _run(str(SAMPLES / "bpi_severity.toml"))
    assert code == 2 and "placeholder example" in err and "--example" in err
    assert not InstrumentText.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "message"), [
    ("this is = = not toml", "not valid TOML"),
    ('instrument = "phq9"\nlicence_holder = "Site"\n[items]\n1 = "x"\n', "ships its own text"),
    ('instrument = "pam"\nlicence_holder = "Site"\n', "external score only"),
    ('instrument = "bpi_severity"\nlicence_holder = "Site"\n[items]\n1 = "a"\n2 = "b"\n'
     '3 = "c"\n', "item 4 missing"),
    ('instrument = "bpi_severity"\n[items]\n1 = "a"\n2 = "b"\n3 = "c"\n4 = "d"\n',
     "'licence_holder' is missing"),
    ('instrument = "nope"\nlicence_holder = "Site"\n', "unknown instrument"),
])
def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "licence.toml"
    path.write_text(text)
    code, out, err = _run(str(path))
    assert code == 2
    assert message in err and "licence.toml" in err
    assert not InstrumentText.objects.exists()
    assert services.why_not_administrable("bpi_severity") is not None


@pytest.mark.django_db
def test_a_missing_file() -> None:
    code, _, err = _run("/no/such/file.toml")
    assert code == 2 and "Cannot read" in err


@pytest.mark.django_db
def test_the_peercoach_command(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("PEERCOACH_MODE", "")
    assert cli.main(["load-instrument", str(SAMPLES / "pseq10.toml"), "--example"]) == 0
    assert "Loaded PSEQ-10 (pseq10)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('instrument = "pseq2"\nlicence_holder = "Site"\n')
    assert cli.main(["load-instrument", str(bad)]) == 2
    assert "the [items] table is missing" in capsys.readouterr().err
    assert list(InstrumentText.objects.values_list("code", flat=True)) == ["pseq10"]
