"""One error shape for the API: whatever a view or service raises, the client reads the same body."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import serializers

from clausebook.api_errors import Conflict, exception_handler
from clausebook.models import ApiToken, Membership


def answer(error: Exception):  # type: ignore[no-untyped-def]
    return exception_handler(error, {})


def test_a_django_field_error_is_a_400_naming_the_field() -> None:
    response = answer(ValidationError({"k": "k must be at least 1.", "__all__": "Pick clauses."}))
    assert response.status_code == 400
    assert response.data == {"k": ["k must be at least 1."], "non_field_errors": ["Pick clauses."]}


def test_a_django_error_without_a_field_is_listed_as_non_field() -> None:
    response = answer(ValidationError("The campaign is closed."))
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["The campaign is closed."]}


def test_a_drf_error_with_a_bare_message_has_the_same_shape() -> None:
    response = answer(serializers.ValidationError("Send exactly one of 'file' or 'records'."))
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Send exactly one of 'file' or 'records'."]}


def test_a_drf_field_error_keeps_its_fields() -> None:
    response = answer(serializers.ValidationError({"file": "File too large."}))
    assert response.data == {"file": ["File too large."]}


def test_permission_denied_is_a_403_and_a_missing_object_a_404() -> None:
    denied = answer(PermissionDenied("This item is not assigned to you."))
    assert denied.status_code == 403
    assert denied.data == {"detail": "This item is not assigned to you."}
    missing = answer(Http404("No such clause"))
    assert missing.status_code == 404
    assert missing.data == {"detail": "No such clause"}


def test_a_conflict_is_a_409_carrying_the_current_state() -> None:
    response = answer(Conflict("Reload first.", current={"revision": 4}))
    assert response.status_code == 409
    assert response.data == {"detail": "Reload first.", "current": {"revision": 4}}


def test_a_delete_refused_to_keep_evidence_is_a_409_naming_what_protects_it() -> None:
    response = answer(ProtectedError("refused", [Membership(), ApiToken(), Membership()]))
    assert response.status_code == 409
    assert response.data == {
        "detail": "This cannot be deleted: it is still referenced by api tokens, memberships."
    }
