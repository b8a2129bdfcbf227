from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("preferences/", views.preferences, name="preferences"),
    path("failed/", views.failed_deliveries, name="failed"),
    path("failed/retry/", views.retry_shown, name="retry_shown"),
    path("failed/<int:pk>/retry/", views.retry, name="retry"),
    path("patients/<int:pk>/reminders/", views.patient_reminders, name="patient_reminders"),
]
