"""When a questionnaire may be answered: pure date logic, no Django.

A time point is due `day` days after enrollment and may be answered from
`window_before_days` before to `window_after_days` after that date. Baseline is
different: it must be answered before the coach's first contact, so its window
closes on the first planned contact when that comes sooner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    opens_on: dt.date
    due_on: dt.date
    closes_on: dt.date


def window_for(*, enrolled_on: dt.date, day: int, before: int, after: int,
               before_first_contact: bool = False,
               first_contact_on: dt.date | None = None) -> Window:
    due = enrolled_on + dt.timedelta(days=day)
    # Nothing is asked before the patient has enrolled.
    opens = max(enrolled_on, due - dt.timedelta(days=before))
    closes = due + dt.timedelta(days=after)
    if before_first_contact and first_contact_on is not None:
        # Answered on the day of the first contact still counts as "before" it.
        closes = max(opens, min(closes, first_contact_on))
        due = min(due, closes)
    return Window(opens_on=opens, due_on=due, closes_on=closes)


def is_overdue(closes_on: dt.date, today: dt.date) -> bool:
    return today > closes_on
