"""Forms for setting up a study and its arms. Rules live in the models and services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from peercoach.programs.models import Program

from .models import ArmKind, StratumFactor, Study


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def add_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: by field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class StudyForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    title = forms.CharField(max_length=200)
    registration_id = forms.CharField(
        max_length=40, required=False, label="Registration ID",
        help_text="The trial registration, e.g. ClinicalTrials.gov NCT02380690.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    block_sizes = forms.CharField(
        max_length=100, required=False, label="Block sizes",
        help_text="Sizes chosen from at random for each block, e.g. 2, 4, 6. Each must be a "
                  "multiple of the arms' ratios added up (2 for two equal arms, 9 for 5:4). "
                  "Leave empty for 1, 2 and 3 times that sum. Hidden from everyone but the "
                  "statistician once recruiting starts.")
    strata = forms.MultipleChoiceField(
        choices=StratumFactor.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Stratify by",
        help_text="Each stratum gets its own balanced sequence. Baseline pain is the latest "
                  "PEG before randomization; patients without one form an 'unknown' band.")
    time_points = forms.CharField(
        max_length=200, required=False, label="Assessed time points",
        help_text="Time point keys, e.g. baseline, 6mo, 9mo.")

    def __init__(self, *args: Any, programs: Any = None, study: Study | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if study is None:
            self.fields["program"].queryset = programs  # type: ignore[attr-defined]
            if programs is not None and len(programs) == 1:
                self.fields["program"].initial = programs[0].pk
        else:
            del self.fields["program"]
            if not study.is_draft:
                # The design is fixed, and its block sizes are concealed.
                del self.fields["block_sizes"]
                del self.fields["strata"]

    def clean_block_sizes(self) -> list[int]:
        sizes = []
        for part in _split(self.cleaned_data["block_sizes"]):
            if not part.isascii() or not part.isdigit():
                raise ValidationError(f"'{part}' is not a whole number. Write sizes like "
                                      "2, 4, 6.")
            sizes.append(int(part))
        return sizes

    def clean_time_points(self) -> list[str]:
        return [t.lower() for t in _split(self.cleaned_data["time_points"])]

    @staticmethod
    def initial_for(study: Study) -> dict[str, Any]:
        return {"title": study.title, "registration_id": study.registration_id,
                "description": study.description,
                "block_sizes": ", ".join(map(str, study.block_sizes)),
                "strata": study.strata, "time_points": ", ".join(study.time_points)}


class ArmForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. Peer coaching")
    code = forms.SlugField(max_length=30, help_text="A short code for exports, e.g. coaching.")
    kind = forms.ChoiceField(choices=ArmKind.choices, widget=forms.RadioSelect,
                             initial=ArmKind.INTERVENTION)
    ratio = forms.IntegerField(min_value=1, max_value=20, initial=1,
                               help_text="Relative share: 1 and 1 for equal arms, 5 and 4 "
                                         "for 5:4.")
    target_size = forms.IntegerField(min_value=1, max_value=100000, required=False,
                                     label="Target size", help_text="How many patients are "
                                                                    "planned in this arm.")
    gets_coach = forms.BooleanField(required=False, initial=True, label="Patients get a coach",
                                    help_text="Control arms get assessments and no coach.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                  help_text="What patients in this arm receive.")

    def __init__(self, *args: Any, frozen: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if frozen:
            for name in ("code", "kind", "ratio", "gets_coach"):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == ArmKind.CONTROL and data.get("gets_coach"):
            self.add_error("gets_coach", "A control arm gets assessments and no coach: untick "
                                         "this, or make the arm an intervention.")
        return data
