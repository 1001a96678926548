"""The OpenAPI schema and its Swagger page: public, valid and documenting the bearer scheme."""

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

SCHEMA_URL = reverse("api:schema")


@pytest.fixture
def schema(db):
    response = APIClient().get(SCHEMA_URL, {"format": "json"})
    return response.json()


def test_schema_generates_without_warnings(db, tmp_path):
    output = tmp_path / "schema.yaml"

    # --fail-on-warn raises on any warning, and --validate checks against the OpenAPI 3 spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(output))

    assert yaml.safe_load(output.read_text())["openapi"].startswith("3.")


def test_schema_is_public(db):
    response = APIClient().get(SCHEMA_URL)

    assert response.status_code == 200


def test_docs_page_is_public(db):
    response = APIClient().get(reverse("api:docs"))

    assert response.status_code == 200


def test_schema_documents_bearer_scheme(schema):
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_every_operation_requires_api_key(schema):
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]

    unsecured = [
        f"{method.upper()} {path}"
        for path, method, operation in operations
        if operation.get("security") != [{"ApiKeyAuth": []}]
    ]

    assert operations
    assert unsecured == []


def test_schema_never_mentions_hashed_key(schema):
    assert "hashed_key" not in str(schema)
