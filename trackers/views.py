"""Read endpoints of the trackers API: thin views over trackers.selectors.

Every view validates its query string (trackers.filters), learns the caller's scope
(trackers.scope) and answers from a cachecore namespace; the ``X-Cache`` header names the tier
that answered (l1, l2, l3, miss or disabled).
"""

import time
from contextlib import contextmanager

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.metrics import (
    DASHBOARD_LOAD_SECONDS,
    EMPTY_STATE_VIEWS_TOTAL,
    FILTER_APPLICATIONS_TOTAL,
    LAZY_LOAD_TRIGGERS_TOTAL,
)
from trackers import selectors
from trackers import serializers as out
from trackers.conf import conf
from trackers.filters import (
    NoParamsSerializer,
    ProductionRunParamsSerializer,
    TrackerListParamsSerializer,
    TrackerStatsParamsSerializer,
    parse_params,
    parse_stats_filters,
    parse_tracker_filters,
)
from trackers.scope import user_client_ids

BAD_REQUEST = OpenApiResponse(description='Bad parameter: {"detail": "<parameter>: <reason>"}')
NOT_AUTHENTICATED = OpenApiResponse(description="Not authenticated")
ERRORS = {400: BAD_REQUEST, 403: NOT_AUTHENTICATED}


def cache_headers(info) -> dict:
    """Return the response headers describing how the cache answered."""
    return {"X-Cache": getattr(info, "tier", "miss")}


@contextmanager
def dashboard_timer(endpoint: str):
    """Observe how long a dashboard endpoint took (successful answers only)."""
    started = time.perf_counter()
    yield
    DASHBOARD_LOAD_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)


class ReferenceListApi(APIView):
    """A cached reference table, filtered by the caller's scope on the cached list."""

    table: str = ""
    params_serializer = NoParamsSerializer

    def get(self, request):
        params = parse_params(self.params_serializer, request.query_params)
        rows, info = selectors.visible_reference(self.table, user_client_ids(request.user), **params)
        return Response(rows, headers=cache_headers(info))


def reference_schema(serializer, description: str, parameters=None):
    """Return the OpenAPI decoration of a reference endpoint."""
    return extend_schema_view(
        get=extend_schema(
            operation_id=serializer.Meta.model._meta.model_name + "_list",
            tags=["reference data"],
            description=description,
            parameters=parameters or [],
            responses={200: serializer(many=True), **ERRORS},
        )
    )


SHARED = " Shared by every client: not filtered by scope."
SCOPED = " Only the rows of the caller's clients (staff: all)."


@reference_schema(out.ClientOutputSerializer, "Clients." + SCOPED)
class ClientListApi(ReferenceListApi):
    table = "clients"


@reference_schema(out.BrandItemSerializer, "Brands, each with its `production_run_count`." + SCOPED)
class BrandListApi(ReferenceListApi):
    table = "brands"


@reference_schema(
    out.ProductionRunItemSerializer,
    "Production runs, newest first, each with its `tracker_count`; `brand_id` narrows to one brand." + SCOPED,
    parameters=[ProductionRunParamsSerializer],
)
class ProductionRunListApi(ReferenceListApi):
    table = "production_runs"
    params_serializer = ProductionRunParamsSerializer


@reference_schema(out.StorageLocationOutputSerializer, "Storage locations." + SHARED)
class StorageLocationListApi(ReferenceListApi):
    table = "storage_locations"


@reference_schema(out.DeliveryLocationOutputSerializer, "Delivery locations." + SHARED)
class DeliveryLocationListApi(ReferenceListApi):
    table = "delivery_locations"


@reference_schema(out.ImageOutputSerializer, "Images." + SHARED)
class ImageListApi(ReferenceListApi):
    table = "images"


class TrackerListApi(APIView):
    """The dashboard's tracker list: filtered, paginated, constant query count, cached 5 min."""

    @extend_schema(
        operation_id="trackers_list",
        tags=["trackers"],
        parameters=[TrackerListParamsSerializer],
        responses={200: out.TrackerPageSerializer, **ERRORS},
        description=(
            "Trackers of the caller's clients, last report first (never-reported last), then by id. "
            "Ids outside the caller's scope match nothing (an empty page, never 404). "
            "`lazy_load=true` with no filter returns the empty page without any query. "
            "A page beyond the last returns no items (total and pages still tell the size)."
        ),
    )
    def get(self, request):
        filters = parse_tracker_filters(request.query_params)
        with dashboard_timer("trackers"):
            for name in filters.applied:
                FILTER_APPLICATIONS_TOTAL.labels(filter=name).inc()
            if filters.lazy_load and not filters.applied:
                # The dashboard's empty state: answered before the scope is even looked up.
                EMPTY_STATE_VIEWS_TOTAL.inc()
                return Response(selectors.empty_page(filters), headers={"X-Cache": "none"})
            if filters.lazy_load:
                LAZY_LOAD_TRIGGERS_TOTAL.inc()
            page, info = selectors.tracker_page(filters, user_client_ids(request.user))
        return Response(page, headers=cache_headers(info))


class TrackerStatsApi(APIView):
    """Counts of the caller's trackers by status, brand and production run; cached 5 min."""

    # The clock is a class attribute so tests can replace it (DRF's throttle style).
    clock = staticmethod(timezone.now)

    @extend_schema(
        operation_id="tracker_stats",
        tags=["trackers"],
        parameters=[TrackerStatsParamsSerializer],
        responses={200: out.TrackerStatsSerializer, **ERRORS},
        description="Counts of the trackers matching the brand, run and search filters (all when none).",
    )
    def get(self, request):
        filters = parse_stats_filters(request.query_params)
        with dashboard_timer("tracker_stats"):
            stats, info = selectors.tracker_stats(user_client_ids(request.user), now=self.clock(), filters=filters)
        return Response(stats, headers=cache_headers(info))


BAD_TRACKER_ID = "tracker_id: {value!r} is not a positive integer id."
TRACKER_NOT_FOUND = "tracker_id: no tracker {value} in your scope."


class TrackerDetailApi(APIView):
    """One tracker: latest location and its recent trail; 404 outside the caller's scope."""

    @extend_schema(
        operation_id="tracker_detail",
        tags=["trackers"],
        responses={
            200: out.TrackerDetailSerializer,
            404: OpenApiResponse(description="No such tracker in the caller's scope"),
            **ERRORS,
        },
        description="Cached per tracker (5 min, invalidated by its writes and new history); two queries on a miss.",
    )
    def get(self, request, tracker_id: str):
        parse_params(NoParamsSerializer, request.query_params)
        if not tracker_id.isdigit() or not 0 < int(tracker_id) < 2**63:
            return Response({"detail": BAD_TRACKER_ID.format(value=tracker_id)}, status=400)
        detail, info = selectors.tracker_detail(int(tracker_id), user_client_ids(request.user))
        if detail is None:
            return Response({"detail": TRACKER_NOT_FOUND.format(value=tracker_id)}, status=404)
        return Response(detail, headers=cache_headers(info))


class MyScopeApi(APIView):
    """The size of the caller's data scope and whether the dashboard should load lazily."""

    @extend_schema(
        operation_id="me_scope",
        tags=["trackers"],
        responses={200: out.ScopeSummarySerializer, **ERRORS},
        description="`lazy_mode` is true when `tracker_count` exceeds `lazy_threshold` (TRACKERS_LAZY_THRESHOLD).",
    )
    def get(self, request):
        parse_params(NoParamsSerializer, request.query_params)
        summary, info = selectors.scope_summary(user_client_ids(request.user))
        threshold = conf.LAZY_THRESHOLD
        body = {**summary, "lazy_mode": summary["tracker_count"] > threshold, "lazy_threshold": threshold}
        return Response(body, headers=cache_headers(info))
