"""The shared API helpers: Django validation errors as DRF 400s, ids in query strings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from peercoach.core.api import drf_error, id_param


def _request(query: dict[str, str]) -> Request:
    return Request(APIRequestFactory().get("/api/v1/anything/", query))


def test_drf_error_keeps_field_names() -> None:
    error = drf_error(DjangoValidationError({"reason": ["Say why."]}))
    assert isinstance(error, ValidationError)
    assert error.detail == {"reason": ["Say why."]}
    assert error.status_code == 400


@pytest.mark.parametrize("exc", [DjangoValidationError("This proposal is closed."),
                                 DjangoValidationError(["This proposal is closed."])])
def test_drf_error_puts_other_messages_under_detail(exc: DjangoValidationError) -> None:
    assert drf_error(exc).detail == {"detail": ["This proposal is closed."]}


@pytest.mark.parametrize("query", [{}, {"site": ""}])
def test_id_param_absent_or_empty_is_none(query: dict[str, str]) -> None:
    assert id_param(_request(query), "site") is None


def test_id_param_returns_the_id() -> None:
    assert id_param(_request({"site": "42"}), "site") == 42


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "²", "1" * 19])
def test_id_param_rejects_what_is_not_an_id(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        id_param(_request({"site": value}), "site")
    assert caught.value.detail == {"site": f"'{value}' is not a whole number."}
