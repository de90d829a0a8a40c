"""manage.py listen_invalidations: the first wave's name of ``cache_relay`` (same options)."""

from cachecore.management.commands.cache_relay import Command as RelayCommand


class Command(RelayCommand):
    help = "Alias of cache_relay (kept for deployments that run it under this name). " + RelayCommand.help
