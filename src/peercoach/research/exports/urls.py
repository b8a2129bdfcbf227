"""Export pages, included in the research app's URLs (namespace "research")."""

from django.urls import path

from . import views

urlpatterns = [
    path("exports/", views.export_list, name="export_list"),
    path("exports/rows/", views.export_rows, name="export_rows"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
]
