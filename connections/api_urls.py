from rest_framework.routers import SimpleRouter

from connections import api

router = SimpleRouter()
router.register("connections", api.ConnectionViewSet, basename="connection")

urlpatterns = router.urls
