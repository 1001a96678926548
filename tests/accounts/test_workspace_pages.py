import pytest
from django.urls import reverse

from accounts.models import Membership, Workspace, create_workspace

HOME_URL = reverse("accounts:home")
CREATE_URL = reverse("accounts:create_workspace")


def dashboard_url(workspace):
    return reverse("accounts:dashboard", args=[workspace.public_id])


@pytest.mark.django_db
def test_home_redirects_anonymous_to_login(client):
    response = client.get(HOME_URL)

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={HOME_URL}"


def test_home_opens_first_workspace(owner_client, workspace):
    response = owner_client.get(HOME_URL)

    assert response.url == dashboard_url(workspace)


def test_home_opens_last_used_workspace(owner_client, owner, workspace):
    second = create_workspace("Second", owner)
    owner_client.get(dashboard_url(second))

    response = owner_client.get(HOME_URL)

    assert response.url == dashboard_url(second)


def test_home_ignores_last_used_workspace_after_leaving(owner_client, owner, workspace, outsider):
    second = create_workspace("Second", outsider)
    Membership.objects.create(workspace=second, user=owner, role=Membership.Role.MEMBER)
    owner_client.get(dashboard_url(second))
    Membership.objects.filter(workspace=second, user=owner).delete()

    response = owner_client.get(HOME_URL)

    assert response.url == dashboard_url(workspace)


def test_home_without_workspace_opens_create_page(client, outsider):
    client.force_login(outsider)

    response = client.get(HOME_URL)

    assert response.url == CREATE_URL


def test_create_workspace_makes_user_owner(owner_client, owner, workspace):
    response = owner_client.post(CREATE_URL, {"name": "  Umbrella  "})

    created = Workspace.objects.get(name="Umbrella")
    assert response.url == dashboard_url(created)
    assert created.memberships.get().user == owner
    assert created.memberships.get().role == Membership.Role.OWNER


def test_create_workspace_rejects_blank_name(owner_client, workspace):
    response = owner_client.post(CREATE_URL, {"name": "   "})

    assert response.status_code == 400
    assert "Workspace name: This field is required." in response.content.decode()
    assert Workspace.objects.count() == 1


@pytest.mark.django_db
def test_create_workspace_requires_login(client):
    response = client.post(CREATE_URL, {"name": "Umbrella"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert not Workspace.objects.exists()


def test_dashboard_shows_name_plan_and_member_counts(owner_client, workspace, member):
    content = owner_client.get(dashboard_url(workspace)).content.decode()

    assert "<h1>Acme</h1>" in content
    assert "Free plan" in content
    assert "<dt>All members</dt><dd>2</dd>" in content
    assert "<dt>Owners</dt><dd>1</dd>" in content


def test_dashboard_visible_to_member(member_client, workspace):
    response = member_client.get(dashboard_url(workspace))

    assert response.status_code == 200


def test_header_lists_each_workspace_of_user(owner_client, owner, workspace):
    second = create_workspace("Second", owner)

    content = owner_client.get(dashboard_url(workspace)).content.decode()

    assert f'href="{dashboard_url(workspace)}"' in content
    assert f'href="{dashboard_url(second)}"' in content


def test_header_hides_workspaces_of_others(owner_client, workspace, other_workspace):
    content = owner_client.get(dashboard_url(workspace)).content.decode()

    assert dashboard_url(other_workspace) not in content


def test_nav_links_workspace_pages_for_owner(owner_client, workspace):
    content = owner_client.get(dashboard_url(workspace)).content.decode()

    for name in ["members", "api_keys", "plan", "settings"]:
        assert reverse(f"accounts:{name}", args=[workspace.public_id]) in content, name


def test_nav_hides_manager_pages_from_member(member_client, workspace):
    content = member_client.get(dashboard_url(workspace)).content.decode()

    assert reverse("accounts:api_keys", args=[workspace.public_id]) not in content
    assert reverse("accounts:settings", args=[workspace.public_id]) not in content


def test_nav_renders_without_connections_and_syncs_pages(owner_client, workspace):
    response = owner_client.get(dashboard_url(workspace))

    assert response.status_code == 200
    assert b'aria-label="Workspace"' in response.content


def test_dashboard_lists_syncs_with_open_failures(owner_client, workspace):
    from django.urls import reverse

    from connections.models import Connection
    from syncs.models import RecordFailure, Run, Sync

    sides = []
    for name in ("Billing", "CRM"):
        connection = Connection(workspace=workspace, provider="stripe", display_name=name, auth_method="api_key")
        connection.set_credentials({"api_key": "rk_test_x"})
        connection.save()
        sides.append(connection)
    sync = Sync.objects.create(
        workspace=workspace, name="Billing to CRM", connection_a=sides[0], object_a="customer",
        connection_b=sides[1], object_b="contact",
    )
    run = Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, status=Run.Status.PARTIAL)
    RecordFailure.objects.create(
        sync=sync, run=run, record_key="ann@example.com", direction="a_to_b", category="rejected_value", message="No"
    )

    content = owner_client.get(reverse("accounts:dashboard", args=[workspace.public_id])).content.decode()

    assert "Billing to CRM" in content
    assert "Finished with failures" in content
    assert reverse("syncs:failures", args=[workspace.public_id, sync.public_id]) in content


def test_dashboard_without_connections_says_where_to_start(owner_client, workspace):
    from django.urls import reverse

    content = owner_client.get(reverse("accounts:dashboard", args=[workspace.public_id])).content.decode()

    assert "connecting two tools" in content
