"""/api/v1/ for matching: proposals, proposed pairs, matches, coach capacity."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import Perm, patients_for, programs_for

from . import proposals
from .models import Match, PairState, Proposal, ProposedPair, UnmatchedPatient


class ProposedPairSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProposedPair
        fields = ("id", "proposal", "patient", "coach", "score", "components", "explanation",
                  "state")
        read_only_fields = ("id", "proposal", "patient", "coach", "score", "components",
                            "explanation")


class UnmatchedSerializer(serializers.ModelSerializer):
    class Meta:
        model = UnmatchedPatient
        fields = ("patient", "reason")


class ProposalSerializer(serializers.ModelSerializer):
    pairs = ProposedPairSerializer(many=True, read_only=True)
    unmatched = UnmatchedSerializer(many=True, read_only=True)

    class Meta:
        model = Proposal
        fields = ("id", "program", "status", "created_by", "created_at", "weights", "previous",
                  "confirmed_by", "confirmed_at", "pairs", "unmatched")
        read_only_fields = fields


class ProposalCreateSerializer(serializers.Serializer):
    program = serializers.IntegerField()


class PairStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=PairState.choices)


class MatchSerializer(serializers.ModelSerializer):
    current = serializers.BooleanField(source="is_current", read_only=True)

    class Meta:
        model = Match
        fields = ("id", "patient", "coach", "started_on", "ended_on", "end_reason", "current",
                  "source", "proposal", "proposed_by", "created_by", "score",
                  "score_components", "weights", "explanation")
        read_only_fields = fields


def _proposals_for(user: Any, perm: Perm) -> QuerySet[Proposal]:
    return Proposal.objects.filter(program__in=programs_for(user, perm))


@extend_schema_view(create=extend_schema(request=ProposalCreateSerializer,
                                         responses=ProposalSerializer))
class ProposalViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Matching proposals. POST {"program": id} proposes (again)."""

    lookup_value_regex = r"[0-9]+"
    serializer_class = ProposalSerializer
    policy_perms = {"list": Perm.MATCH_VIEW, "retrieve": Perm.MATCH_VIEW,
                    "create": Perm.MATCH_MANAGE, "confirm": Perm.MATCH_MANAGE}

    def get_queryset(self) -> QuerySet[Proposal]:
        qs = _proposals_for(self.request.user, Perm.MATCH_VIEW).prefetch_related(
            Prefetch("pairs"), Prefetch("unmatched"))
        program = id_param(self.request, "program")
        if program is not None:
            qs = qs.filter(program_id=program)
        return qs.order_by("-created_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ProposalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = programs_for(request.user, Perm.MATCH_MANAGE).filter(
            pk=data.validated_data["program"]).first()
        if program is None:
            raise ValidationError({"program": "No such program among yours."})
        proposal = proposals.proposal_propose(program=program, by=request.user)
        return Response(ProposalSerializer(proposal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MatchSerializer(many=True))
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        proposal = _proposals_for(request.user, Perm.MATCH_MANAGE).filter(pk=pk or 0).first()
        if proposal is None:
            raise NotFound("No such proposal.")
        try:
            matches = proposals.proposal_confirm(proposal=proposal, by=request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(MatchSerializer(matches, many=True).data)


@extend_schema_view(partial_update=extend_schema(request=PairStateSerializer))
class ProposedPairViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                          viewsets.GenericViewSet):
    """One proposed pair. PATCH {"state": "locked" | "rejected" | "proposed"}."""

    lookup_value_regex = r"[0-9]+"
    serializer_class = ProposedPairSerializer
    http_method_names = ["get", "patch", "head", "options"]
    policy_perms = {"retrieve": Perm.MATCH_VIEW, "partial_update": Perm.MATCH_MANAGE}

    def get_queryset(self) -> QuerySet[ProposedPair]:
        perm = Perm.MATCH_MANAGE if self.action == "partial_update" else Perm.MATCH_VIEW
        return ProposedPair.objects.filter(
            proposal__program__in=programs_for(self.request.user, perm))

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pair = self.get_object()
        data = PairStateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = proposals.proposal_pair_set_state(
                pair=pair, state=data.validated_data["state"], by=request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(ProposedPairSerializer(pair).data)


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("current", bool, description="Only pairs that have not ended"),
    OpenApiParameter("coach", int), OpenApiParameter("patient", int)]))
class MatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Every pair ever made, with start, end and reason, for patients you may see."""

    lookup_value_regex = r"[0-9]+"
    serializer_class = MatchSerializer
    policy_perms = {"list": Perm.MATCH_VIEW, "retrieve": Perm.MATCH_VIEW}

    def get_queryset(self) -> QuerySet[Match]:
        qs = Match.objects.filter(
            patient__in=patients_for(self.request.user, Perm.MATCH_VIEW)).order_by("-id")
        q = self.request.query_params
        if q.get("current") in ("true", "1"):
            qs = qs.filter(ended_on__isnull=True)
        elif q.get("current") in ("false", "0"):
            qs = qs.filter(ended_on__isnull=False)
        for name in ("coach", "patient"):
            value = id_param(self.request, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        return qs
