"""Thin API views of the comprehensive user data, its workflows and its cache management."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import ScopedThrottle
from contentplanning import params as qp
from contentplanning import selectors, services, workflows
from contentplanning.access import UNKNOWN_USER, resolve_subject


def success(data, info, message: str) -> Response:
    """Return the success envelope shared by the data endpoints."""
    return Response(
        {
            "status": "success",
            "data": data,
            "cache_info": info.as_dict(),
            "message": f"{message} (cache: {'HIT' if info.is_cached else 'MISS'})",
        }
    )


class StrictQueryApi(APIView):
    """Base: a query parameter not in ``query_params_allowed`` is a 400 naming it (after auth checks)."""

    query_params_allowed: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles first
        qp.reject_unknown(request.query_params, self.query_params_allowed)


class SubjectApi(StrictQueryApi):
    """Base of the endpoints that read one user's data (own data, or anyone's for staff)."""

    query_params_allowed = ("user_id", "strategy_id")

    def subject(self, request):
        """Return the (user, strategy) the query names, after the permission check."""
        query = request.query_params
        return resolve_subject(
            caller=request.user,
            user_id=qp.positive_int(query.get("user_id"), "user_id"),
            strategy_id=qp.positive_int(query.get("strategy_id"), "strategy_id"),
        )


@extend_schema(parameters=[*qp.SUBJECT, qp.FORCE_REFRESH], responses=OpenApiTypes.OBJECT)
class ComprehensiveUserDataApi(SubjectApi):
    """The front-end data load: a user's onboarding, AI analysis, gaps, strategy and performance."""

    query_params_allowed = ("user_id", "strategy_id", "force_refresh")

    def get(self, request):
        force_refresh = qp.boolean(request.query_params.get("force_refresh"), "force_refresh")
        user, strategy = self.subject(request)
        data, info = services.comprehensive_user_data(user=user, strategy=strategy, force_refresh=force_refresh)
        return success(data, info, f"Comprehensive user data of user {user.pk}")


@extend_schema(parameters=qp.SUBJECT, responses=OpenApiTypes.OBJECT)
class StrategyDraftApi(SubjectApi):
    """Content strategy generation: a strategy draft from the user's data."""

    def get(self, request):
        user, strategy = self.subject(request)
        draft, info = workflows.content_strategy_generate(user=user, strategy=strategy)
        return success(draft, info, f"Strategy draft for user {user.pk}")


@extend_schema(parameters=[*qp.SUBJECT, qp.START, qp.WEEKS_PARAM], responses=OpenApiTypes.OBJECT)
class CalendarDraftApi(SubjectApi):
    """Calendar generation: proposed slots for the next weeks."""

    query_params_allowed = ("user_id", "strategy_id", "start", "weeks")

    def get(self, request):
        weeks = qp.weeks(request.query_params.get("weeks"))
        start = qp.plan_start(qp.iso_date(request.query_params.get("start"), "start") or timezone.localdate(), weeks)
        user, strategy = self.subject(request)
        slots, info = workflows.calendar_generate(user=user, strategy=strategy, start=start, weeks=weeks)
        return success({"start": start.isoformat(), "slots": slots}, info, f"Calendar draft for user {user.pk}")


@extend_schema(
    parameters=[*qp.SUBJECT, OpenApiParameter("step", str, OpenApiParameter.PATH, enum=workflows.WIZARD_STEPS)],
    responses=OpenApiTypes.OBJECT,
)
class CalendarWizardStepApi(SubjectApi):
    """The calendar wizard: the data one step shows."""

    def get(self, request, step):
        if step not in workflows.WIZARD_STEPS:
            raise qp.invalid("step", f"must be one of {', '.join(workflows.WIZARD_STEPS)}.")
        user, strategy = self.subject(request)
        data, info = workflows.calendar_wizard_step(user=user, step=step, strategy=strategy)
        return success(data, info, f"Calendar wizard step {step} for user {user.pk}")


@extend_schema(parameters=qp.SUBJECT, responses=OpenApiTypes.OBJECT)
class FrameworkApi(SubjectApi):
    """The 12-step content framework with each step's completion."""

    def get(self, request):
        user, strategy = self.subject(request)
        data, info = workflows.twelve_step_framework(user=user, strategy=strategy)
        return success(data, info, f"12-step framework for user {user.pk}")


class CacheManagementApi(StrictQueryApi):
    """Base of the staff-only cache endpoints: throttled (CACHE_MANAGEMENT_THROTTLE_RATE per user)."""

    permission_classes = [IsAdminUser]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "cache_management"


@extend_schema(responses=OpenApiTypes.OBJECT)
class CacheStatsApi(CacheManagementApi):
    """Staff: entries of the comprehensive-user-data cache table and hit rates per tier."""

    def get(self, request):
        return Response(selectors.user_data_cache_stats(now=timezone.now()))


@extend_schema(
    parameters=[
        OpenApiParameter("user_id", int, OpenApiParameter.PATH),
        OpenApiParameter("strategy_id", int, description="reported separately; all the user's entries are retired"),
    ],
    responses=OpenApiTypes.OBJECT,
)
class CacheInvalidateApi(CacheManagementApi):
    """Staff: retire every cached entry of one user now."""

    query_params_allowed = ("strategy_id",)

    def delete(self, request, user_id):
        user_id = qp.positive_int(user_id, "user_id")
        strategy_id = qp.positive_int(request.query_params.get("strategy_id"), "strategy_id")
        if selectors.user_get(user_id) is None:
            raise NotFound(UNKNOWN_USER.format(user_id=user_id))
        invalidated = services.user_data_invalidate(user_id=user_id, strategy_id=strategy_id)
        return Response(
            {
                "status": "success",
                "invalidated": invalidated,
                "message": f"Invalidated the cached data of user {user_id}",
            }
        )


class CleanupOutputSerializer(drf_serializers.Serializer):
    status = drf_serializers.CharField()
    removed = drf_serializers.IntegerField()
    message = drf_serializers.CharField()


@extend_schema(request=None, responses=CleanupOutputSerializer)
class CacheCleanupApi(CacheManagementApi):
    """Staff: delete the expired rows of the comprehensive-user-data cache table."""

    def post(self, request):
        removed = services.user_data_cleanup(now=timezone.now())
        return Response({"status": "success", "removed": removed, "message": f"Removed {removed} expired entries"})
