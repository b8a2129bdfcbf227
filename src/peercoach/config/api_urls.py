"""REST API under /api/v1/ and its OpenAPI schema."""

from typing import Any

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from peercoach.core.policy import PUBLIC

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False


class SchemaView(SpectacularAPIView):
    policy_perms = {"*": PUBLIC}


class SchemaDocsView(SpectacularSwaggerView):
    policy_perms = {"*": PUBLIC}


def _register() -> None:
    from peercoach.assessments import api as assessments_api
    from peercoach.coaching.api import (
        ContactViewSet,
        GoalViewSet,
        ManualProgressViewSet,
        PlanViewSet,
    )
    from peercoach.core.audit_api import AuditEventViewSet
    from peercoach.matching.api import MatchViewSet, ProposalViewSet, ProposedPairViewSet
    from peercoach.notifications.api import DeliveryViewSet
    from peercoach.people.api import CoachViewSet, PatientViewSet
    from peercoach.programs.api import ProgramViewSet, SiteViewSet
    from peercoach.research import api as research_api
    from peercoach.research.exports.api import ExportJobViewSet
    from peercoach.supervision import api as supervision_api
    from peercoach.training.api import TrainingSessionViewSet

    router.register("patients", PatientViewSet, basename="patient")
    router.register("coaches", CoachViewSet, basename="coach")
    router.register("match-proposals", ProposalViewSet, basename="match-proposal")
    router.register("proposed-pairs", ProposedPairViewSet, basename="proposed-pair")
    router.register("matches", MatchViewSet, basename="match")
    router.register("contact-plans", PlanViewSet, basename="contact-plan")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("goals", GoalViewSet, basename="goal")
    router.register("manual-progress", ManualProgressViewSet, basename="manual-progress")
    router.register("alerts", supervision_api.AlertViewSet, basename="alert")
    router.register("safety-events", supervision_api.SafetyEventViewSet, basename="safety-event")
    router.register("supervision-sessions", supervision_api.SupervisionSessionViewSet,
                    basename="supervision-session")
    router.register("tips", supervision_api.TipViewSet, basename="tip")
    router.register("wellbeing-checks", supervision_api.WellbeingCheckViewSet,
                    basename="wellbeing-check")
    router.register("studies", research_api.StudyViewSet, basename="study")
    router.register("study-arms", research_api.ArmViewSet, basename="study-arm")
    router.register("allocations", research_api.AllocationViewSet, basename="allocation")
    router.register("instruments", assessments_api.InstrumentViewSet, basename="instrument")
    router.register("time-points", assessments_api.TimePointViewSet, basename="time-point")
    router.register("assessments", assessments_api.AssessmentViewSet, basename="assessment")
    router.register("assessment-responses", assessments_api.ResponseVersionViewSet,
                    basename="assessment-response")
    router.register("external-scores", assessments_api.ExternalScoreViewSet,
                    basename="external-score")
    router.register("sites", SiteViewSet, basename="site")
    router.register("programs", ProgramViewSet, basename="program")
    router.register("training-sessions", TrainingSessionViewSet, basename="training-session")
    router.register("audit-events", AuditEventViewSet, basename="audit-event")
    router.register("deliveries", DeliveryViewSet, basename="delivery")
    router.register("export-jobs", ExportJobViewSet, basename="export-job")
    router.register("supervision-schedules", supervision_api.GroupScheduleViewSet,
                    basename="supervision-schedule")


_register()

def _preferences_path() -> Any:
    from peercoach.notifications.api import PreferenceViewSet

    view = PreferenceViewSet.as_view({"get": "me", "put": "me"})
    return path("api/v1/notification-preferences/me/", view,
                name="notification-preferences-me")


urlpatterns = [
    _preferences_path(),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SchemaDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
