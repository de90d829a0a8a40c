"""Thin API views of the comprehensive user data, its workflows and its cache management."""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from contentplanning import selectors, services, workflows
from contentplanning.access import UNKNOWN_USER, resolve_subject
from contentplanning.serializers import (
    CalendarDraftQuerySerializer,
    InvalidateQuerySerializer,
    SubjectQuerySerializer,
    UserDataQuerySerializer,
    WizardStepSerializer,
)


def parse(serializer_class, data) -> dict:
    """Return validated query parameters or raise a 400 naming the bad one."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def cache_info_payload(info) -> dict:
    """Return the JSON shape of a CacheInfo."""
    stamp = info.timestamp
    if isinstance(stamp, int | float):
        stamp = datetime.fromtimestamp(stamp, tz=timezone.get_current_timezone())
    return {
        "is_cached": info.is_cached,
        "tier": info.tier,
        "force_refresh": bool(getattr(info, "force_refresh", False)),
        "timestamp": stamp.isoformat() if stamp else None,
    }


def success(data, info, message: str) -> Response:
    """Return the success envelope shared by the data endpoints."""
    return Response(
        {
            "status": "success",
            "data": data,
            "cache_info": cache_info_payload(info),
            "message": f"{message} (cache: {'HIT' if info.is_cached else 'MISS'})",
        }
    )


class SubjectApi(APIView):
    """Base of the endpoints that read one user's data (own data, or anyone's for staff)."""

    query_serializer = SubjectQuerySerializer

    def subject(self, request):
        params = parse(self.query_serializer, request.query_params)
        user, strategy = resolve_subject(
            caller=request.user, user_id=params.get("user_id"), strategy_id=params.get("strategy_id")
        )
        return user, strategy, params


@extend_schema(parameters=[UserDataQuerySerializer], responses=OpenApiTypes.OBJECT)
class ComprehensiveUserDataApi(SubjectApi):
    """The front-end data load: a user's onboarding, AI analysis, gaps, strategy and performance."""

    query_serializer = UserDataQuerySerializer

    def get(self, request):
        user, strategy, params = self.subject(request)
        data, info = services.comprehensive_user_data(
            user=user, strategy=strategy, force_refresh=params["force_refresh"]
        )
        return success(data, info, f"Comprehensive user data of user {user.pk}")


@extend_schema(parameters=[SubjectQuerySerializer], responses=OpenApiTypes.OBJECT)
class StrategyDraftApi(SubjectApi):
    """Content strategy generation: a strategy draft from the user's data."""

    def get(self, request):
        user, strategy, _ = self.subject(request)
        draft, info = workflows.content_strategy_generate(user=user, strategy=strategy)
        return success(draft, info, f"Strategy draft for user {user.pk}")


@extend_schema(parameters=[CalendarDraftQuerySerializer], responses=OpenApiTypes.OBJECT)
class CalendarDraftApi(SubjectApi):
    """Calendar generation: proposed slots for the next weeks."""

    query_serializer = CalendarDraftQuerySerializer

    def get(self, request):
        user, strategy, params = self.subject(request)
        start = params.get("start") or timezone.localdate()
        slots, info = workflows.calendar_generate(user=user, strategy=strategy, start=start, weeks=params["weeks"])
        return success({"start": start.isoformat(), "slots": slots}, info, f"Calendar draft for user {user.pk}")


@extend_schema(
    parameters=[
        SubjectQuerySerializer,
        OpenApiParameter("step", str, OpenApiParameter.PATH, enum=workflows.WIZARD_STEPS),
    ],
    responses=OpenApiTypes.OBJECT,
)
class CalendarWizardStepApi(SubjectApi):
    """The calendar wizard: the data one step shows."""

    def get(self, request, step):
        step = parse(WizardStepSerializer, {"step": step})["step"]
        user, strategy, _ = self.subject(request)
        data, info = workflows.calendar_wizard_step(user=user, step=step, strategy=strategy)
        return success(data, info, f"Calendar wizard step {step} for user {user.pk}")


@extend_schema(parameters=[SubjectQuerySerializer], responses=OpenApiTypes.OBJECT)
class FrameworkApi(SubjectApi):
    """The 12-step content framework with each step's completion."""

    def get(self, request):
        user, strategy, _ = self.subject(request)
        data, info = workflows.twelve_step_framework(user=user, strategy=strategy)
        return success(data, info, f"12-step framework for user {user.pk}")


@extend_schema(responses=OpenApiTypes.OBJECT)
class CacheStatsApi(APIView):
    """Staff: entries of the comprehensive-user-data cache table and hit rates per tier."""

    permission_classes = [IsAdminUser]

    def get(self, request):
        return Response(selectors.user_data_cache_stats(now=timezone.now()))


@extend_schema(
    parameters=[
        OpenApiParameter("user_id", int, OpenApiParameter.PATH),
        OpenApiParameter("strategy_id", int, OpenApiParameter.QUERY, required=False),
    ],
    responses=OpenApiTypes.OBJECT,
)
class CacheInvalidateApi(APIView):
    """Staff: retire every cached entry of one user now."""

    permission_classes = [IsAdminUser]

    def delete(self, request, user_id):
        params = parse(InvalidateQuerySerializer, {**request.query_params.dict(), "user_id": user_id})
        if selectors.user_get(params["user_id"]) is None:
            raise NotFound(UNKNOWN_USER.format(user_id=params["user_id"]))
        invalidated = services.user_data_invalidate(user_id=params["user_id"], strategy_id=params.get("strategy_id"))
        return Response(
            {
                "status": "success",
                "invalidated": invalidated,
                "message": f"Invalidated the cached data of user {params['user_id']}",
            }
        )


class CleanupOutputSerializer(drf_serializers.Serializer):
    status = drf_serializers.CharField()
    removed = drf_serializers.IntegerField()
    message = drf_serializers.CharField()


@extend_schema(request=None, responses=CleanupOutputSerializer)
class CacheCleanupApi(APIView):
    """Staff: delete the expired rows of the comprehensive-user-data cache table."""

    permission_classes = [IsAdminUser]

    def post(self, request):
        removed = services.user_data_cleanup(now=timezone.now())
        return Response({"status": "success", "removed": removed, "message": f"Removed {removed} expired entries"})
