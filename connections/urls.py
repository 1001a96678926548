from django.urls import path

from connections import views

app_name = "connections"

workspace_prefix = "w/<uuid:workspace_id>/connections/"
connection_prefix = workspace_prefix + "<uuid:connection_id>/"

urlpatterns = [
    path(workspace_prefix, views.connection_list, name="list"),
    path(workspace_prefix + "new/", views.new_connection, name="new"),
    path(workspace_prefix + "new/<slug:provider>/api-key/", views.connect_api_key, name="connect_api_key"),
    path(workspace_prefix + "new/<slug:provider>/oauth/", views.oauth_start, name="oauth_start"),
    # One callback per provider, outside the workspace prefix: it is
    # registered once at the tool, and the workspace comes from the state.
    path("connections/oauth/<slug:provider>/callback/", views.oauth_callback, name="oauth_callback"),
    path(connection_prefix, views.connection_detail, name="detail"),
    path(connection_prefix + "rename/", views.rename_connection, name="rename"),
    path(connection_prefix + "verify/", views.verify_connection, name="verify"),
    path(connection_prefix + "reconnect/", views.reconnect_connection, name="reconnect"),
    path(connection_prefix + "disconnect/", views.disconnect_connection, name="disconnect"),
]
