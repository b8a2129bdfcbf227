"""A study's reports (appended to the research URLs, under /studies/<pk>/reports/)."""

from __future__ import annotations

from django.urls import path

from . import report_views as views

urlpatterns = [
    path("<int:pk>/reports/", views.reports, name="reports"),
    path("<int:pk>/reports/fidelity/", views.fidelity_page, name="report_fidelity"),
    path("<int:pk>/reports/fidelity.csv", views.fidelity_csv, name="report_fidelity_csv"),
    path("<int:pk>/reports/consort/", views.consort_page, name="report_consort"),
    path("<int:pk>/reports/consort.svg", views.consort_svg, name="report_consort_svg"),
    path("<int:pk>/reports/consort.pdf", views.consort_pdf, name="report_consort_pdf"),
    path("<int:pk>/reports/consort.csv", views.consort_csv, name="report_consort_csv"),
    path("<int:pk>/reports/re-aim/", views.reaim_page, name="report_reaim"),
    path("<int:pk>/reports/re-aim.csv", views.reaim_csv, name="report_reaim_csv"),
    path("<int:pk>/reports/outcomes/", views.outcomes_page, name="report_outcomes"),
    path("<int:pk>/reports/outcomes.csv", views.outcomes_csv, name="report_outcomes_csv"),
]
