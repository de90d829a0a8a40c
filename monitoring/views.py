"""HTTP endpoints of the monitoring app: /api/health, /metrics and the /monitoring/ page."""

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import access, cache_observer, query_timing, shared_stats
from monitoring.conf import app_settings
from monitoring.health import build_health
from monitoring.throttling import HealthThrottle

INVALID_TOKEN_MESSAGE = "Authorization: the bearer token is not valid."  # noqa: S105 - a message, not a secret
METRICS_FORBIDDEN = "Forbidden: /metrics is readable from METRICS_ALLOWED_IPS or with the monitoring bearer token.\n"


class HealthApi(APIView):
    """Report the service's health; details for staff and the monitoring token."""

    permission_classes = [AllowAny]
    throttle_classes = [HealthThrottle]
    throttle_scope = "health"

    def perform_authentication(self, request):
        # A staff session is read from the database; when the database is down the answer must be
        # the 503 health report, not a 500 from the session lookup.
        try:
            request.user  # noqa: B018 - evaluating the property authenticates
        except DatabaseError:
            request.user = AnonymousUser()

    @extend_schema(
        summary="Service health",
        description=(
            "Anyone: status (ok | degraded | down), timestamp, uptime. Staff or "
            "`Authorization: Bearer $MONITORING_TOKEN`: also performance, cache and dependencies "
            "(the token gets SQL statements as their group, `select <table>`; staff get the fingerprints). "
            "200 when ok or degraded (Redis down), 503 when the database is down. Rate-limited."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="ok or degraded"),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="a bearer token was sent and is wrong"),
            429: OpenApiResponse(OpenApiTypes.OBJECT, description="throttled"),
            503: OpenApiResponse(OpenApiTypes.OBJECT, description="the database is down"),
        },
    )
    def get(self, request):
        """Return the health report."""
        token = access.bearer_token(request)
        if token is not None and not access.token_is_valid(token):
            return Response({"detail": INVALID_TOKEN_MESSAGE}, status=401, headers={"WWW-Authenticate": "Bearer"})
        staff = access.is_staff(request.user)
        status, body = build_health(detailed=token is not None or staff, show_sql=staff)
        return Response(body, status=status, headers={"Cache-Control": "no-store"})


@never_cache
def metrics_view(request):
    """Export the Prometheus metrics to allowed addresses or token holders."""
    allowed = access.address_allowed(request.META.get("REMOTE_ADDR")) or access.token_is_valid(
        access.bearer_token(request)
    )
    if not allowed:
        return HttpResponse(METRICS_FORBIDDEN, status=403, content_type="text/plain; charset=utf-8")
    query_timing.flush()  # db_query_seconds includes this process's queued statements
    cache_observer.refresh_outbox_gauges()
    cache_observer.export_known_labels()  # alerting counters exist at zero before their first increment
    return ExportToDjangoView(request)


@never_cache
@staff_member_required
def monitoring_page(request):
    """Render the staff monitoring page; its script refreshes the figures from /api/health."""
    status, report = build_health(detailed=True)
    context = {
        "report": report,
        "http_status": status,
        "page_config": {
            "healthUrl": reverse("health"),
            "historyUrl": reverse("monitoring-history"),
            "historyResolution": app_settings().history_resolution,
            "refreshSeconds": app_settings().page_refresh_seconds,
        },
    }
    return render(request, "monitoring/page.html", context)


@never_cache
@staff_member_required
def monitoring_history(request):
    """Return the monitoring page's chart data: every process's samples of the last hour."""
    if request.GET:
        name = sorted(request.GET)[0]
        return JsonResponse({"detail": f"{name}: unknown parameter; allowed: none."}, status=400)
    try:
        return JsonResponse(shared_stats.history_series())
    except DatabaseError as exc:
        return JsonResponse({"detail": f"the history store is unavailable: {exc.__class__.__name__}"}, status=503)
