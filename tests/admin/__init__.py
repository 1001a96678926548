import pytest

from accounts.models import User

STAFF_PASSWORD = "staff-password-for-tests"


@pytest.fixture
def staff_user(db):
    return User.objects.create_superuser(email="staff@oneprofile.test", password=STAFF_PASSWORD)


@pytest.fixture
def staff_client(client, staff_user):
    """A Django test client logged in as a staff superuser. Import it into a test module to use it."""
    client.force_login(staff_user)
    return client
