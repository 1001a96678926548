import pytest
from django.urls import reverse

from accounts.models import Membership, User, Workspace

SIGNUP_URL = reverse("accounts:signup")
GOOD_PASSWORD = "plum-violin-orbit-42"


def signup(client, **fields):
    data = {"email": "new@initech.test", "password": GOOD_PASSWORD, "workspace_name": "Initech"}
    data.update(fields)
    return client.post(SIGNUP_URL, data)


@pytest.mark.django_db
def test_signup_page_shows_form(client):
    response = client.get(SIGNUP_URL)

    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password"' in response.content
    assert b'name="workspace_name"' in response.content


@pytest.mark.django_db
def test_signup_creates_user_workspace_and_owner_membership(client):
    signup(client)

    user = User.objects.get(email="new@initech.test")
    membership = Membership.objects.get(user=user)
    assert membership.workspace.name == "Initech"
    assert membership.role == Membership.Role.OWNER


@pytest.mark.django_db
def test_signup_logs_in_and_lands_on_dashboard(client):
    response = signup(client)

    workspace = Workspace.objects.get(name="Initech")
    assert response.status_code == 302
    assert response.url == reverse("accounts:dashboard", args=[workspace.public_id])
    assert client.get(response.url).status_code == 200


@pytest.mark.django_db
def test_signup_stores_a_usable_password(client):
    signup(client)

    user = User.objects.get(email="new@initech.test")
    assert user.check_password(GOOD_PASSWORD)


@pytest.mark.django_db
def test_signup_without_workspace_name_names_workspace_after_email(client):
    signup(client, workspace_name="")

    assert Workspace.objects.filter(name="new's workspace").count() == 1


@pytest.mark.django_db
def test_signup_rejects_existing_email_in_other_case(client, workspace):
    response = signup(client, email="OWNER@Acme.TEST")

    assert response.status_code == 400
    assert "Email address: An account with the email address OWNER@acme.test already exists" in response.content.decode()
    assert User.objects.count() == 1
    assert Workspace.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password, message",
    [
        ("short1", "This password is too short"),
        ("password1234", "This password is too common"),
        ("4817392650", "This password is entirely numeric"),
    ],
)
def test_signup_rejects_weak_password_naming_field(client, password, message):
    response = signup(client, password=password)

    assert response.status_code == 400
    assert f"Password: {message}" in response.content.decode()
    assert not User.objects.exists()
    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_signup_rejects_password_similar_to_email(client):
    response = signup(client, email="marmaladewizard@initech.test", password="marmaladewizard")

    assert response.status_code == 400
    assert "Password: The password is too similar to the email address" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_signup_rejects_invalid_email(client):
    response = signup(client, email="not-an-email")

    assert response.status_code == 400
    assert "Email address: Enter a valid email address." in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_signup_does_not_log_in_on_error(client):
    signup(client, password="short1")

    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_signup_redirects_logged_in_user_home(owner_client):
    response = owner_client.get(SIGNUP_URL)

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
