"""The OpenAPI document names every status the gateway can answer (found by fuzzing)."""

from services.gateway.openapi import openapi_document


def test_the_login_documents_its_401_for_a_wrong_password() -> None:
    login = openapi_document()["paths"]["/api/login"]["post"]
    assert "401" in login["responses"]
