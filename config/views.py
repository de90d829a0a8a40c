"""The API root: a browsable index of the project's endpoints."""

from django.urls import NoReverseMatch
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse

# (name, url name) pairs shown at /api/; names that are not routed yet are skipped.
ENDPOINTS = [
    ("clients", "clients"),
    ("brands", "brands"),
    ("production-runs", "production-runs"),
    ("storage-locations", "storage-locations"),
    ("delivery-locations", "delivery-locations"),
    ("images", "images"),
    ("trackers", "trackers"),
    ("tracker-stats", "tracker-stats"),
    ("location-reports", "location-reports"),
    ("my-scope", "me-scope"),
    ("comprehensive-user-data", "comprehensive-user-data"),
    ("health", "health"),
    ("schema", "schema"),
    ("schema-docs", "schema-docs"),
]


@extend_schema(exclude=True)  # an index of links, not an API contract
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request, format=None):
    """List the API's endpoints."""
    links = {}
    for label, name in ENDPOINTS:
        try:
            links[label] = reverse(name, request=request, format=format)
        except NoReverseMatch:  # an endpoint not routed yet is simply not listed
            pass
    return Response(links)


class SchemaDocsView(SpectacularSwaggerView):
    """The Swagger UI page, for GET and HEAD only.

    drf-spectacular's view answers OPTIONS with DRF's metadata, which its HTML template cannot
    render (a 500); without OPTIONS the request is a plain 405.
    """

    http_method_names = ["get", "head"]
