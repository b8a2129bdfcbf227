"""Shared REST API plumbing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from peercoach.core.policy import is_id


def drf_error(exc: DjangoValidationError) -> ValidationError:
    """The services' Django ValidationError as DRF's, so the client gets a 400, not a 500.

    DRF turns only its own ValidationError into a 400 response. Errors tied to fields
    (from `full_clean()`) keep their field names, so a client can show each message
    next to its input; any other error comes back under "detail".
    """
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"detail": exc.messages})


def id_param(request: Request, name: str) -> int | None:
    """The query parameter `name` as a database id, or None when it is absent or empty.

    A value that is not an id ("abc", "-1", "²") is a 400 naming the parameter rather
    than a filter that silently matches nothing or a 500 from `int()`.
    """
    value = request.query_params.get(name, "")
    if not value:
        return None
    if not is_id(value):
        raise ValidationError({name: f"'{value}' is not a whole number."})
    return int(value)


class IdsFirstPaginator(Paginator):
    """Find the page's ids with a narrow query, then load just those rows in full.

    The OFFSET then walks an index instead of evaluating every annotation (identity flag,
    current coach, ...) for every row it skips: the last page of 100,000 patients drops
    from seconds to tens of milliseconds. One query more, whatever the size.
    """

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page(  # type: ignore[attr-defined]  # Django API, not in the stubs
            [rows[pk] for pk in ids if pk in rows], number, self)


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = IdsFirstPaginator
