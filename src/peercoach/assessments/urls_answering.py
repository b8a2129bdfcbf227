"""Answering pages: the patient signed in, secure links, staff with the patient, the staff
pages around them (one patient's questionnaires, versions, corrections), time points and
the instrument list. Mounted at /assessments/ with app_name "assessments"."""

from __future__ import annotations

from django.urls import path

from . import answer_views, link_views, staff_views

urlpatterns = [
    # The patient, signed in.
    path("me/", answer_views.my_list, name="my_list"),
    path("me/<int:pk>/", answer_views.my_question, name="my_question"),
    path("me/<int:pk>/review/", answer_views.my_review, name="my_review"),
    path("me/<int:pk>/done/", answer_views.my_done, name="my_done"),
    # A secure link (no login).
    path("q/<str:token>/", link_views.link_open, name="link_open"),
    path("link/", link_views.link_home, name="link_home"),
    path("link/finish/", link_views.link_finish, name="link_finish"),
    path("link/<int:pk>/", link_views.link_question, name="link_question"),
    path("link/<int:pk>/review/", link_views.link_review, name="link_review"),
    path("link/<int:pk>/done/", link_views.link_done, name="link_done"),
    # Staff.
    path("patients/<int:pk>/", staff_views.patient_assessments, name="patient_assessments"),
    path("patients/<int:pk>/link/", link_views.link_create, name="link_create"),
    path("patients/<int:pk>/link/stop/", link_views.link_revoke, name="link_revoke"),
    path("patients/<int:pk>/pam/", staff_views.external_score, name="external_score"),
    path("<int:pk>/", staff_views.assessment_detail, name="assessment_detail"),
    path("<int:pk>/fill/", answer_views.staff_start, name="staff_start"),
    path("<int:pk>/fill/question/", answer_views.staff_question, name="staff_question"),
    path("<int:pk>/fill/review/", answer_views.staff_review, name="staff_review"),
    path("<int:pk>/fill/done/", answer_views.staff_done, name="staff_done"),
    path("<int:pk>/correct/", staff_views.correct, name="correct"),
    path("<int:pk>/missed/", staff_views.mark_missed, name="mark_missed"),
    path("programs/<int:pk>/time-points/", staff_views.time_points, name="time_points"),
    path("time-points/<int:pk>/", staff_views.time_point_edit, name="time_point_edit"),
    path("instruments/", staff_views.instrument_list, name="instrument_list"),
]
