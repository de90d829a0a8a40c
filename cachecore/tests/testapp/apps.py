from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """cachecore's own test models, so the engine is tested (and could be packaged) without the project's apps.

    Installed by ``config.test_settings`` only.
    """

    name = "cachecore.tests.testapp"
    label = "cachecore_testapp"
    default_auto_field = "django.db.models.BigAutoField"
