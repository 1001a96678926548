import pytest

from connections.models import Connection
from syncs.models import Direction, FieldMapping, Sync
from tests.runs import memory_provider
from tests.runs.memory_provider import MemoryTool


@pytest.fixture
def tools():
    """Two in-memory tool accounts, "billing" (side A) and "crm" (side B)."""
    memory_provider.TOOLS.clear()
    memory_provider.TOOLS["billing"] = MemoryTool()
    memory_provider.TOOLS["crm"] = MemoryTool()
    yield memory_provider.TOOLS
    memory_provider.TOOLS.clear()


def make_connection(workspace, account_id):
    connection = Connection(
        workspace=workspace,
        provider="memorytool",
        display_name=account_id.capitalize(),
        account_id=account_id,
        auth_method=Connection.AuthMethod.API_KEY,
    )
    connection.set_credentials({"api_key": f"key-{account_id}"})
    connection.save()
    return connection


@pytest.fixture
def sync(workspace, tools):
    sync = Sync.objects.create(
        workspace=workspace,
        name="Billing to CRM",
        connection_a=make_connection(workspace, "billing"),
        object_a="person",
        connection_b=make_connection(workspace, "crm"),
        object_b="person",
    )
    FieldMapping.objects.create(sync=sync, direction=Direction.A_TO_B, source_field="plan", destination_field="plan")
    FieldMapping.objects.create(sync=sync, direction=Direction.A_TO_B, source_field="seats", destination_field="seats")
    return sync
