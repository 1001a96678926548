"""`manage.py create_api_key`: creates a workspace key and prints it once."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey


def run(*args):
    stdout, stderr = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_prints_raw_key_alone_on_stdout(workspace):
    stdout, _ = run(workspace.slug)

    raw_key = stdout.strip()
    assert raw_key.startswith("op_")
    assert stdout.count("\n") == 1


def test_stores_only_the_digest(workspace):
    stdout, _ = run(workspace.slug)

    api_key = ApiKey.objects.get(workspace=workspace)
    assert api_key.hashed_key == ApiKey.hash(stdout.strip())


def test_printed_key_authenticates(workspace):
    stdout, _ = run(workspace.slug)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {stdout.strip()}")

    response = client.get(reverse("api:workspace"))

    assert response.json()["public_id"] == str(workspace.public_id)


def test_uses_given_name(workspace):
    run(workspace.slug, "--name", "Zapier")

    assert ApiKey.objects.get(workspace=workspace).name == "Zapier"


def test_default_name(workspace):
    run(workspace.slug)

    assert ApiKey.objects.get(workspace=workspace).name == "Command-line key"


def test_key_has_no_creator(workspace):
    run(workspace.slug)

    assert ApiKey.objects.get(workspace=workspace).created_by is None


def test_stderr_names_prefix_and_workspace(workspace):
    _, stderr = run(workspace.slug)

    api_key = ApiKey.objects.get(workspace=workspace)
    assert api_key.prefix in stderr
    assert f"'Acme' ({workspace.slug})" in stderr


def test_unknown_slug_names_slug_and_how_to_list(workspace):
    with pytest.raises(CommandError) as error:
        run("no-such-workspace")

    assert "No workspace has the slug 'no-such-workspace'." in str(error.value)
    assert "create_api_key --list-workspaces" in str(error.value)


def test_unknown_slug_suggests_close_match(workspace):
    with pytest.raises(CommandError) as error:
        run(workspace.slug[:-1])

    assert f"Did you mean '{workspace.slug}'?" in str(error.value)


def test_unknown_slug_creates_no_key(workspace):
    with pytest.raises(CommandError):
        run("no-such-workspace")

    assert not ApiKey.objects.exists()


def test_missing_slug_is_rejected(db):
    with pytest.raises(CommandError, match="Missing the workspace slug"):
        run()


def test_blank_name_is_rejected(workspace):
    with pytest.raises(CommandError, match="The key name can't be blank"):
        run(workspace.slug, "--name", "   ")

    assert not ApiKey.objects.exists()


def test_long_name_is_rejected(workspace):
    with pytest.raises(CommandError, match="has 101 characters, more than the maximum of 100"):
        run(workspace.slug, "--name", "x" * 101)

    assert not ApiKey.objects.exists()


def test_list_workspaces_prints_slugs_and_names(workspace, other_workspace):
    stdout, _ = run("--list-workspaces")

    assert stdout.splitlines() == sorted(
        [f"{workspace.slug}\tAcme", f"{other_workspace.slug}\tGlobex"]
    )


def test_list_workspaces_creates_no_key(workspace):
    run("--list-workspaces")

    assert not ApiKey.objects.exists()


def test_each_run_creates_a_new_key(workspace):
    first, _ = run(workspace.slug)
    second, _ = run(workspace.slug)

    assert first != second
    assert ApiKey.objects.filter(workspace=workspace).count() == 2
