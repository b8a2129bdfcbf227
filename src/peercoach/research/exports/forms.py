"""The form that asks for an export."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import ExportFormat, ExportKind


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV,
                               widget=forms.RadioSelect, label="Format")
    kind = forms.ChoiceField(choices=ExportKind.choices, initial=ExportKind.ALL,
                             widget=forms.RadioSelect, label="Whose data")
    program: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, help_text="For \"One program\".")
    study: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, help_text="For \"One study\": its randomized participants.")
    identified = forms.BooleanField(
        required=False, label="Include identities (names, contact details, real dates)",
        help_text="Only for work your approved protocol allows. Researchers always get "
                  "de-identified data.")

    def __init__(self, *args: Any, programs: Any, studies: Any, may_identify: bool,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program_field: Any = self.fields["program"]
        study_field: Any = self.fields["study"]
        program_field.queryset = programs
        study_field.queryset = studies
        if not may_identify:
            del self.fields["identified"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == ExportKind.PROGRAM and not data.get("program"):
            self.add_error("program", "Choose the program.")
        if kind == ExportKind.STUDY and not data.get("study"):
            self.add_error("study", "Choose the study.")
        if kind != ExportKind.PROGRAM:
            data["program"] = None
        if kind != ExportKind.STUDY:
            data["study"] = None
        data.setdefault("identified", False)
        return data
