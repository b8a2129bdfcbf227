"""Results pages: trajectories, outcome reports and the clinician summary."""

from __future__ import annotations

from django.urls import path

from . import report_views as views

urlpatterns = [
    path("patients/<int:patient_id>/trajectory/", views.trajectory, name="trajectory"),
    path("patients/<int:patient_id>/trajectory.svg", views.trajectory_svg,
         name="trajectory_svg"),
    path("patients/<int:patient_id>/trajectory.csv", views.trajectory_csv,
         name="trajectory_csv"),
    path("me/trajectory/", views.my_trajectory, name="my_trajectory"),
    path("outcomes/", views.outcome_report, name="outcomes"),
    path("outcomes.csv", views.outcome_report_csv, name="outcomes_csv"),
    path("outcomes.svg", views.outcome_report_svg, name="outcomes_svg"),
    path("patients/<int:patient_id>/summary/", views.clinician_summary, name="summary"),
    path("patients/<int:patient_id>/summary.pdf", views.clinician_summary_pdf,
         name="summary_pdf"),
]
