from django.urls import path

from accounts import views

app_name = "accounts"

workspace_prefix = "w/<uuid:workspace_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("workspaces/new/", views.create_workspace_page, name="create_workspace"),
    path("invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path(workspace_prefix, views.dashboard, name="dashboard"),
    path(workspace_prefix + "members/", views.members, name="members"),
    path(workspace_prefix + "members/invite/", views.invite_member, name="invite_member"),
    path(workspace_prefix + "members/leave/", views.leave_workspace, name="leave_workspace"),
    path(
        workspace_prefix + "members/<int:membership_id>/role/",
        views.change_member_role,
        name="change_member_role",
    ),
    path(
        workspace_prefix + "members/<int:membership_id>/remove/",
        views.remove_member,
        name="remove_member",
    ),
    path(
        workspace_prefix + "invitations/<int:invitation_id>/withdraw/",
        views.withdraw_invitation,
        name="withdraw_invitation",
    ),
    path(workspace_prefix + "api-keys/", views.api_keys, name="api_keys"),
    path(
        workspace_prefix + "api-keys/<int:key_id>/revoke/",
        views.revoke_api_key,
        name="revoke_api_key",
    ),
    path(workspace_prefix + "plan/", views.plan, name="plan"),
    path(workspace_prefix + "settings/", views.workspace_settings, name="settings"),
]
