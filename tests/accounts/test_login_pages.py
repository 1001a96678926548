import re

import pytest
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

LOGIN_URL = reverse("accounts:login")
LOGOUT_URL = reverse("accounts:logout")
RESET_URL = reverse("accounts:password_reset")
NEW_PASSWORD = "tangerine-glacier-quartz"


def test_login_accepts_email_in_other_case(client, owner):
    response = client.post(LOGIN_URL, {"username": "Owner@ACME.test", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_login_follows_next(client, owner, workspace):
    dashboard_url = reverse("accounts:dashboard", args=[workspace.public_id])

    response = client.post(LOGIN_URL + f"?next={dashboard_url}", {"username": owner.email, "password": PASSWORD, "next": dashboard_url})

    assert response.url == dashboard_url


def test_login_rejects_wrong_password(client, owner):
    response = client.post(LOGIN_URL, {"username": owner.email, "password": "wrong-password-here"})

    assert response.status_code == 200
    assert "The email address or password is incorrect" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_page_links_to_signup_and_reset(client):
    content = client.get(LOGIN_URL).content.decode()

    assert reverse("accounts:signup") in content
    assert RESET_URL in content


def test_logout_by_post_ends_session(owner_client):
    response = owner_client.post(LOGOUT_URL)

    assert response.status_code == 302
    assert "_auth_user_id" not in owner_client.session


def test_logout_by_get_is_not_allowed(owner_client):
    response = owner_client.get(LOGOUT_URL)

    assert response.status_code == 405
    assert "_auth_user_id" in owner_client.session


def test_password_reset_sends_link_to_email_in_any_case(client, owner, mailoutbox):
    response = client.post(RESET_URL, {"email": "OWNER@acme.test"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.email]
    assert "http://127.0.0.1:8000/password-reset/" in mailoutbox[0].body


def test_password_reset_for_unknown_email_sends_nothing(client, owner, mailoutbox):
    response = client.post(RESET_URL, {"email": "nobody@acme.test"})

    assert response.status_code == 302
    assert mailoutbox == []


def reset_link_path(body):
    return re.search(r"http://127\.0\.0\.1:8000(/password-reset/\S+/\S+/)", body).group(1)


def test_password_reset_link_sets_new_password(client, owner, mailoutbox):
    client.post(RESET_URL, {"email": owner.email})
    link = reset_link_path(mailoutbox[0].body)

    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_password_reset_rejects_weak_new_password(client, owner, mailoutbox):
    client.post(RESET_URL, {"email": owner.email})
    form_page = client.get(reset_link_path(mailoutbox[0].body), follow=True)

    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "short1", "new_password2": "short1"},
    )

    assert response.status_code == 200
    assert "New password confirmation: This password is too short" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.django_db
def test_password_reset_rejects_tampered_link(client):
    User.objects.create_user(email="someone@acme.test", password=PASSWORD)

    response = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "bad-token"]))

    assert response.status_code == 200
    assert "The password reset link is invalid" in response.content.decode()
