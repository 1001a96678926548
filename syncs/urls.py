from django.urls import path

from syncs import views

app_name = "syncs"

workspace_prefix = "w/<uuid:workspace_id>/syncs/"
sync_prefix = workspace_prefix + "<uuid:sync_id>/"

urlpatterns = [
    path(workspace_prefix, views.sync_list, name="list"),
    path(workspace_prefix + "new/", views.sync_new, name="new"),
    path(workspace_prefix + "records/", views.record_history, name="record_history"),
    path(sync_prefix, views.sync_detail, name="detail"),
    path(sync_prefix + "edit/", views.sync_edit, name="edit"),
    path(sync_prefix + "delete/", views.sync_delete, name="delete"),
    path(sync_prefix + "run/", views.sync_run_now, name="run_now"),
    path(sync_prefix + "pause/", views.sync_pause, name="pause"),
    path(sync_prefix + "resume/", views.sync_resume, name="resume"),
    path(sync_prefix + "preview/", views.sync_preview, name="preview"),
    path(sync_prefix + "runs/", views.run_list, name="runs"),
    path(sync_prefix + "runs/<uuid:run_id>/", views.run_detail, name="run_detail"),
    path(sync_prefix + "failures/", views.failures, name="failures"),
    path(sync_prefix + "failures/retry/", views.retry_failures, name="retry_failures"),
    path(sync_prefix + "failures/ignore/", views.ignore_failures, name="ignore_failures"),
]
