from django.urls import reverse

from accounts.models import Plan


def plan_url(workspace):
    return reverse("accounts:plan", args=[workspace.public_id])


def test_plan_page_shows_limits(owner_client, workspace):
    content = owner_client.get(plan_url(workspace)).content.decode()

    assert "Free plan" in content
    assert '<td class="number">3</td>' in content
    assert '<td class="number">2</td>' in content
    assert "every 15 minutes" in content
    assert "10,000" in content


def test_plan_page_shows_usage(owner_client, workspace):
    content = owner_client.get(plan_url(workspace)).content.decode()

    assert content.count('<td class="number">0</td>') == 3


def test_plan_page_follows_workspace_plan(owner_client, workspace):
    workspace.plan = Plan.objects.get(code="team")
    workspace.save()

    content = owner_client.get(plan_url(workspace)).content.decode()

    assert "Team plan" in content
    assert "250,000" in content


def test_member_sees_plan(member_client, workspace):
    response = member_client.get(plan_url(workspace))

    assert response.status_code == 200


def test_plan_page_counts_records_synced_this_month(owner_client, workspace):
    from connections.models import Connection
    from syncs.models import Run, Sync

    connections = []
    for name in ("Billing", "CRM"):
        connection = Connection(workspace=workspace, provider="stripe", display_name=name, auth_method="api_key")
        connection.set_credentials({"api_key": "rk_test_x"})
        connection.save()
        connections.append(connection)
    sync = Sync.objects.create(
        workspace=workspace,
        name="Billing to CRM",
        connection_a=connections[0],
        object_a="customer",
        connection_b=connections[1],
        object_b="contact",
    )
    Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, updated_count=1200, created_count=34)

    content = owner_client.get(plan_url(workspace)).content.decode()

    assert '<td class="number">1,234</td>' in content
