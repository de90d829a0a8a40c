"""WSGI entry point of the throughput scenario: the project with the benchmark's floor URLs."""

from django.conf import settings
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
settings.ROOT_URLCONF = "benchmarks.floor_urls"
