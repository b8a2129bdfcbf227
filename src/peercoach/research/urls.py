from django.urls import path

from . import urls_reports, views
from .exports import urls as export_urls

app_name = "research"

urlpatterns = [
    path("", views.study_list, name="study_list"),
    path("new/", views.study_create, name="study_create"),
    path("<int:pk>/", views.study_detail, name="study_detail"),
    path("<int:pk>/edit/", views.study_edit, name="study_edit"),
    path("<int:pk>/start/", views.study_start, name="study_start"),
    path("<int:pk>/close/", views.study_close, name="study_close"),
    path("<int:pk>/arms/new/", views.arm_create, name="arm_create"),
    path("arms/<int:pk>/", views.arm_edit, name="arm_edit"),
    path("<int:pk>/enrolment/", views.enrolment, name="enrolment"),
    path("<int:pk>/randomize/", views.randomize, name="randomize"),
    path("<int:pk>/allocations/", views.allocation_list, name="allocation_list"),
    path("<int:pk>/sequence/", views.sequence, name="sequence"),
]

# Exports for analysts (exports/urls.py).
urlpatterns += export_urls.urlpatterns

# A study's reports: fidelity, CONSORT, RE-AIM, outcomes (urls_reports.py).
urlpatterns += urls_reports.urlpatterns
