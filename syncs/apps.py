from django.apps import AppConfig


class SyncsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "syncs"
