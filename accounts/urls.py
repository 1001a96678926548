from django.contrib.auth import views as auth_views
from django.urls import path

app_name = "accounts"

# NOTE: placeholder routes; the account pages replace these.
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("", auth_views.LoginView.as_view(), name="home"),
    path("w/<uuid:workspace_id>/", auth_views.LoginView.as_view(), name="dashboard"),
    path("invitations/<str:token>/", auth_views.LoginView.as_view(), name="accept_invitation"),
]
