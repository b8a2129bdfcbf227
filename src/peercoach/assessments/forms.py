"""Forms of the questionnaire pages. The services check the rules again; forms give the
person the words for what to fix."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from . import instruments
from .instruments import Instrument, Item, Licence
from .models import Mode, TimePoint

STAFF_MODE_CHOICES = [(Mode.PHONE.value, "On the phone"),
                      (Mode.IN_PERSON.value, "In person")]


def option_label(option: instruments.Option, item: Item, *, numbered: bool = False) -> str:
    """What an answer says. Answers in words say only the words ("Nearly every day": the
    number is a score, and patients are not shown scores) unless `numbered` (staff); the
    points of a number scale say their number, with the words at its ends ("0 · No pain")."""
    if not numbered and all(o.label for o in item.options):
        return str(option.label)
    return f"{option.value} · {option.label}" if option.label else str(option.value)


def option_words(item: Item, value: Any, *, numbered: bool = False) -> str:
    """The words of an answer, for review screens and version histories."""
    for option in item.options:
        if value is not None and option.value == value:
            return option_label(option, item, numbered=numbered)
    return "" if value is None else str(value)


class AnswerForm(forms.Form):
    """One question: the value is checked against the item's own options."""

    answer = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                    widget=forms.RadioSelect)

    def __init__(self, *args: Any, item: Item, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["answer"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(str(o.value), option_label(o, item)) for o in item.options]


class StaffModeForm(forms.Form):
    mode = forms.ChoiceField(label="How are you filling it in with the patient?",
                             choices=STAFF_MODE_CHOICES, widget=forms.RadioSelect)


class CorrectionForm(forms.Form):
    """Every answer of a submitted questionnaire on one form, with why it changes."""

    mode = forms.ChoiceField(label="How did you check the answers with the patient?",
                             choices=STAFF_MODE_CHOICES, widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Why are the answers being corrected?", max_length=300,
        help_text='Required. For example: "Patient said question 3 was misheard on the '
                  'phone."', widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args: Any, instrument: Instrument, current: dict[int, Any],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            name = f"item_{item.number}"
            self.fields[name] = forms.TypedChoiceField(
                label=f"{item.number}. {item.text or f'Question {item.number}'}",
                choices=[("", "Not answered")] + [
                    (str(o.value), option_label(o, item, numbered=True)) for o in item.options],
                coerce=int, empty_value=None, required=False)
            value = current.get(item.number)
            self.initial.setdefault(name, "" if value is None else str(value))

    def item_fields(self) -> list[forms.BoundField]:
        return [self[f"item_{item.number}"] for item in self.instrument.items]

    def answers(self) -> dict[int, int | None]:
        return {item.number: self.cleaned_data.get(f"item_{item.number}")
                for item in self.instrument.items}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(f"item_{item.number}") is not None
                   for item in self.instrument.items):
            raise forms.ValidationError("A correction needs at least one answer.")
        return data


class MissedForm(forms.Form):
    reason = forms.CharField(label="Why was it missed?", max_length=300,
                             help_text='For example: "No answer after three calls in the '
                                       'window."')


class ExternalScoreForm(forms.Form):
    """A PAM result from the licensed scorer: PeerCoach never computes it."""

    score = forms.FloatField(label="PAM score (0 to 100)", min_value=0, max_value=100)
    level = forms.TypedChoiceField(label="PAM level", coerce=int, empty_value=None,
                                   required=False,
                                   choices=[("", "Not given"), ("1", "Level 1"),
                                            ("2", "Level 2"), ("3", "Level 3"),
                                            ("4", "Level 4")])
    measured_on = forms.DateField(label="Date the patient answered",
                                  widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.CharField(label="Scored by", max_length=200,
                             help_text="Who computed the score, e.g. the licensed vendor's "
                                       "portal.")
    time_point = forms.ModelChoiceField(label="Time point", queryset=TimePoint.objects.none(),
                                        required=False, empty_label="None")

    def __init__(self, *args: Any, program: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_point"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = TimePoint.objects.filter(program=program)

    def clean_measured_on(self) -> Any:
        day = self.cleaned_data["measured_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("The date is in the future.")
        return day


class LinkForm(forms.Form):
    how = forms.ChoiceField(label="How will the patient get the link?", widget=forms.RadioSelect)

    def __init__(self, *args: Any, sms_to: str, email_to: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("show", "Show it to me once, to read out or copy")]
        if sms_to:
            choices.append(("sms", f"Send it by text message to {sms_to}"))
        if email_to:
            choices.append(("email", f"Send it by e-mail to {email_to}"))
        field = self.fields["how"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


def instrument_choice_label(instrument: Instrument, loaded: set[str]) -> str:
    if instrument.licence == Licence.FREE:
        licence = "free to use"
    elif instrument.code in loaded:
        licence = "licensed, text loaded"
    else:
        licence = "licensed, text not loaded: cannot be given yet"
    return f"{instrument.short_name}: {instrument.name} ({licence})"


class TimePointForm(forms.ModelForm):
    instruments = forms.MultipleChoiceField(
        label="Questionnaires", widget=forms.CheckboxSelectMultiple,
        help_text="PHQ-8 leaves out the question about self-harm thoughts (PHQ-9 question 9). "
                  "With PHQ-9, any answer above 0 to that question opens an urgent safety "
                  "event and shows the crisis steps at once; choose PHQ-8 if the program "
                  "cannot follow that up the same day. Choose one of the two, not both.")
    arms = forms.CharField(
        label="Study arms", required=False,
        help_text="Only for a study: arm codes this time point applies to, separated by "
                  "commas. Empty: everyone.")

    class Meta:
        model = TimePoint
        fields = ["key", "label", "day", "window_before_days", "window_after_days",
                  "before_first_contact"]
        labels = {
            "key": "Short name", "label": "Label", "day": "Due on day (after enrollment)",
            "window_before_days": "Window opens (days before)",
            "window_after_days": "Window closes (days after)",
            "before_first_contact": "Must be answered before the first coach contact "
                                    "(baseline)",
        }

    def __init__(self, *args: Any, loaded: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["instruments"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(code, instrument_choice_label(ins, loaded))
                         for code, ins in instruments.REGISTRY.items()
                         if ins.licence != Licence.EXTERNAL_SCORE]
        if self.instance.pk is not None:
            self.initial.setdefault("instruments", list(self.instance.instruments))
            self.initial.setdefault("arms", ", ".join(self.instance.arms))

    def clean_arms(self) -> list[str]:
        raw = self.cleaned_data.get("arms") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def chosen_instruments(self) -> list[str]:
        """Chosen codes: those already asked keep their order, new ones follow."""
        chosen = list(self.cleaned_data.get("instruments") or [])
        kept = [c for c in (self.instance.instruments or []) if c in chosen]
        return kept + [c for c in chosen if c not in kept]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Set before the model's own clean() runs (ModelForm calls it next), which checks
        # the choice of questionnaires (PHQ-9 or PHQ-8, no PAM).
        self.instance.instruments = self.chosen_instruments()
        self.instance.arms = data.get("arms") or []
        return data
