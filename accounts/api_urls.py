from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter()
router.register("members", api.MemberViewSet, basename="member")
router.register("api-keys", api.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("workspace/", api.CurrentWorkspaceView.as_view(), name="workspace"),
    *router.urls,
]
