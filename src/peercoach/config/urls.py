"""URL map. Every view is protected by a rule from peercoach.core.policy."""

from django.urls import include, path

from peercoach.coaching import calendar as coaching_calendar
from peercoach.coaching import patient_views

urlpatterns = [
    path("", include("peercoach.core.urls")),
    path("people/", include("peercoach.people.urls")),
    path("programs/", include("peercoach.programs.urls")),
    path("matching/", include("peercoach.matching.urls")),
    path("training/", include("peercoach.training.urls")),
    path("coaching/", include("peercoach.coaching.urls")),
    path("supervision/", include("peercoach.supervision.urls")),
    path("manual/", include("peercoach.curriculum.urls")),
    path("notifications/", include("peercoach.notifications.urls")),
    path("studies/", include("peercoach.research.urls")),
    path("assessments/", include("peercoach.assessments.urls")),
    path("calendar/<str:token>.ics", coaching_calendar.feed, name="calendar_feed"),
    path("me/pain/", patient_views.pain_check_in, name="pain_check_in"),
    path("", include("peercoach.config.api_urls")),
]
