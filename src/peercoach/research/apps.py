from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "peercoach.research"
    label = "research"
    verbose_name = "Studies and randomization"
