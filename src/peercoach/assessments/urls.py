"""Assessment pages: answering (patients, links, staff on the phone) and reports."""

from __future__ import annotations

from .urls_answering import urlpatterns as answering
from .urls_reports import urlpatterns as reports

app_name = "assessments"
urlpatterns = [*answering, *reports]
