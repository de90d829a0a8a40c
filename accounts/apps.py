from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts (cached sessions and users)"

    def ready(self):
        # Declaring namespaces and watches touches no database (DESIGN.md: nothing in ready()).
        from accounts import caching

        caching.register_signal_handlers()
