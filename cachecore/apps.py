from django.apps import AppConfig


class CachecoreConfig(AppConfig):
    name = "cachecore"
    default_auto_field = "django.db.models.BigAutoField"
