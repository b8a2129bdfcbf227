from __future__ import annotations

from typing import Any

from django import forms

from .models import PatientChannel


def _check_quiet_hours(data: dict[str, Any], whose: str = "your") -> None:
    if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
        raise forms.ValidationError(f"Give both the start and the end of {whose} quiet "
                                    "hours, or neither.")


class PreferenceForm(forms.Form):
    email_enabled = forms.BooleanField(label="Send me e-mail", required=False)
    sms_enabled = forms.BooleanField(label="Send me text messages", required=False)
    phone = forms.CharField(
        label="Mobile phone for text messages", required=False, max_length=30,
        help_text="Leave empty to use the phone number on your PeerCoach record.")
    quiet_start = forms.TimeField(
        label="Quiet hours start", required=False, widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="No reminders between these times (site time). Urgent safety messages "
                  "still come at once.")
    quiet_end = forms.TimeField(label="Quiet hours end", required=False,
                                widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_quiet_hours(data)
        return data


class PatientPreferenceForm(forms.Form):
    """Staff keep a patient's reminder settings (the patient told them)."""

    reminders_enabled = forms.BooleanField(
        label="Send this patient reminders before planned calls", required=False,
        help_text="Untick if the patient asked not to get reminders.")
    channel = forms.ChoiceField(label="How", choices=PatientChannel.choices,
                                widget=forms.RadioSelect)
    quiet_start = forms.TimeField(
        label="Quiet hours start", required=False, widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Leave both empty for the program's default quiet hours (site time).")
    quiet_end = forms.TimeField(label="Quiet hours end", required=False,
                                widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_quiet_hours(data, "the")
        return data
