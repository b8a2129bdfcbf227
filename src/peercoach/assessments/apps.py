from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "peercoach.assessments"
    label = "assessments"
    verbose_name = "Outcome assessments"
