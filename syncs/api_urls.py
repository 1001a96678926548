from rest_framework.routers import SimpleRouter

from syncs import api

router = SimpleRouter()
router.register("syncs", api.SyncViewSet, basename="sync")
router.register("runs", api.RunViewSet, basename="run")
router.register("failures", api.FailureViewSet, basename="failure")

urlpatterns = router.urls
