"""Who reaches the staff admin: staff only; everyone else is sent to the admin login."""

import pytest
from django.urls import reverse

from tests.admin import staff_client, staff_user  # noqa: F401

ADMIN_PAGES = [
    "admin:index",
    "admin:accounts_user_changelist",
    "admin:accounts_workspace_changelist",
    "admin:accounts_plan_changelist",
    "admin:accounts_membership_changelist",
    "admin:accounts_invitation_changelist",
    "admin:accounts_apikey_changelist",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_plain_user_is_redirected_to_admin_login(owner_client, page):
    url = reverse(page)

    response = owner_client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_anonymous_is_redirected_to_admin_login(client, db, page):
    response = client.get(reverse(page))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_staff_superuser_opens_page(staff_client, workspace, member, page):
    response = staff_client.get(reverse(page))

    assert response.status_code == 200


def test_admin_is_mounted_at_admin_path(settings):
    assert reverse("admin:index") == f"/{settings.ADMIN_PATH}"
