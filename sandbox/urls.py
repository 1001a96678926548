app_name = "sandbox"

# NOTE: empty until the tool stand-ins are added.
urlpatterns = []
