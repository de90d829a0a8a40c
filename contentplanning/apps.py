from django.apps import AppConfig


class ContentplanningConfig(AppConfig):
    name = "contentplanning"
    default_auto_field = "django.db.models.BigAutoField"
