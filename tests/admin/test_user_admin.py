"""The user admin: list, search, the add form, and no password hash on any page."""

from django.contrib.auth.hashers import identify_hasher
from django.urls import reverse

from accounts.models import Membership, User
from tests.admin import staff_client, staff_user  # noqa: F401

CHANGELIST = reverse("admin:accounts_user_changelist")


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def hash_parts(user):
    """Return the stored password string and its salt and hash parts."""
    summary = identify_hasher(user.password).decode(user.password)
    return [user.password, summary["salt"], summary["hash"], summary["hash"][:6]]


def test_search_by_email_finds_user(staff_client, owner, outsider):
    response = staff_client.get(CHANGELIST, {"q": "outsider@globex"})

    assert list(response.context["cl"].result_list) == [outsider]


def test_list_shows_workspaces(staff_client, owner, workspace, member):
    response = staff_client.get(CHANGELIST, {"q": "owner@acme.test"})

    assert "<td class=\"field-workspace_names\">Acme</td>" in response.content.decode()


def test_change_page_never_contains_password_hash(staff_client, owner):
    content = staff_client.get(change_url(owner)).content.decode()

    for part in hash_parts(owner):
        assert part not in content


def test_change_page_links_to_password_change(staff_client, owner):
    content = staff_client.get(change_url(owner)).content.decode()

    assert 'href="../password/"' in content


def test_changelist_never_contains_password_hash(staff_client, owner):
    content = staff_client.get(CHANGELIST).content.decode()

    for part in hash_parts(owner):
        assert part not in content


def test_password_change_page_opens(staff_client, owner):
    response = staff_client.get(reverse("admin:auth_user_password_change", args=[owner.pk]))

    assert response.status_code == 200


def test_password_change_sets_new_password(staff_client, owner):
    new_password = "a-brand-new-long-password"

    staff_client.post(
        reverse("admin:auth_user_password_change", args=[owner.pk]),
        {"password1": new_password, "password2": new_password},
    )

    owner.refresh_from_db()
    assert owner.check_password(new_password)


def test_password_filter_lookup_is_rejected(staff_client, owner):
    response = staff_client.get(CHANGELIST, {"password__startswith": "md5"})

    assert response.status_code == 400


def test_add_form_creates_user_with_email_and_password(staff_client, db):
    password = "a-long-enough-password"

    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "new@initech.test", "password1": password, "password2": password},
    )

    assert response.status_code == 302
    user = User.objects.get(email="new@initech.test")
    assert user.check_password(password)


def test_add_form_rejects_email_differing_only_in_case(staff_client, owner):
    password = "a-long-enough-password"

    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "OWNER@acme.test", "password1": password, "password2": password},
    )

    assert response.status_code == 200
    assert "A user with this email address already exists." in response.content.decode()
    assert User.objects.filter(email__iexact="owner@acme.test").count() == 1


def test_add_form_rejects_mismatched_passwords(staff_client, db):
    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "new@initech.test", "password1": "a-long-enough-password", "password2": "other"},
    )

    assert response.status_code == 200
    assert not User.objects.filter(email="new@initech.test").exists()


def test_delete_of_last_owner_is_rejected(staff_client, owner, workspace):
    response = staff_client.post(
        reverse("admin:accounts_user_delete", args=[owner.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert User.objects.filter(pk=owner.pk).exists()
    assert Membership.objects.filter(user=owner, workspace=workspace).exists()


def test_delete_of_plain_member_succeeds(staff_client, member):
    response = staff_client.post(
        reverse("admin:accounts_user_delete", args=[member.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
