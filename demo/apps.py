from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of both domains (``seed_demo_data``) and the demo staff login.

    It lives apart from trackers and contentplanning because it seeds both: it may import both,
    and neither imports the other.
    """

    name = "demo"
    verbose_name = "Demo data"
