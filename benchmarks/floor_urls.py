"""The benchmark's URLconf: the project's URLs plus two floor views serving fixed bytes.

``/bench/floor/`` does no auth work; ``/bench/floor-auth/`` reads ``request.user`` (session and
user lookup) first. Both go through the same middleware as the API. ``/bench/drf-brands/`` is the
brands list as plain DRF would serve it (a ListAPIView over the model serializer, same auth).
"""

from django.http import HttpResponse
from django.urls import include, path
from rest_framework.generics import ListAPIView

from trackers.models import Brand
from trackers.serializers import BrandOutputSerializer

BODY = {"bytes": b"{}"}


def floor(request):
    """Return the fixed bytes; no auth work."""
    return HttpResponse(BODY["bytes"], content_type="application/json")


def floor_auth(request):
    """Return the fixed bytes to an authenticated user (the session and user lookups run)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    return HttpResponse(BODY["bytes"], content_type="application/json")


class PlainBrandList(ListAPIView):
    """The brands list the way a plain DRF project serves it: a query and a serializer per request."""

    queryset = Brand.objects.order_by("name", "id")
    serializer_class = BrandOutputSerializer
    pagination_class = None


urlpatterns = [
    path("bench/drf-brands/", PlainBrandList.as_view()),
    path("bench/floor/", floor),
    path("bench/floor-auth/", floor_auth),
    path("", include("config.urls")),
]
