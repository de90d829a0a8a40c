"""Query-parameter parsing and validation of the trackers read API.

Every endpoint validates its query string with one of the serializers below; a bad value or an
unknown parameter raises ``ValidationError({param: [message]})``, which the project's exception
handler turns into a 400 whose ``detail`` starts with the parameter's name. Unknown parameters
are rejected (a typo such as ``brand_id`` for ``brand_ids`` must not silently widen a result).
"""

from dataclasses import dataclass
from functools import lru_cache

from django.utils.datastructures import MultiValueDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from trackers.conf import conf
from trackers.models import TrackerStatus

# DRF's own format override (?format=json) is accepted everywhere.
ALWAYS_ALLOWED = frozenset({"format"})
MAX_IDS = 1000
MAX_PAGE = 1_000_000
MAX_SEARCH_LENGTH = 100
MAX_ID = 2**63 - 1

UNKNOWN_PARAMETER = "unknown parameter; allowed: {allowed}."
NOT_AN_ID = "{value!r} is not a positive integer id."
TOO_MANY_IDS = "at most {max} ids are allowed."
SIZE_TOO_LARGE = "Ensure this value is less than or equal to {max} (TRACKERS_MAX_PAGE_SIZE)."
UNKNOWN_STATUS = "{value!r} is not a status; choose from {choices}."
# A proxy or a WAF may read the first of two values where Django reads the last: refuse to guess.
CONFLICTING_VALUES = "given more than once with different values; give it once."


# Documented as a string: OpenAPI cannot say "comma-separated and/or repeated" of one parameter.
@extend_schema_field(OpenApiTypes.STR)
class MultiValueField(serializers.Field):
    """A list parameter given as ``a,b`` and/or repeated (``?x=a&x=b``); empty items are skipped."""

    def get_value(self, dictionary):
        raw = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else dictionary.get(self.field_name)
        if raw is None:
            return empty
        if isinstance(raw, str):
            raw = [raw]
        tokens = [token.strip() for value in raw for token in str(value).split(",")]
        tokens = [token for token in tokens if token]
        return tokens or empty

    def to_internal_value(self, data):
        if len(data) > MAX_IDS:
            raise serializers.ValidationError(TOO_MANY_IDS.format(max=MAX_IDS))
        return tuple(sorted({self.parse_item(token) for token in data}))

    def parse_item(self, token: str):
        raise NotImplementedError

    def to_representation(self, value):
        return list(value)


class IdListField(MultiValueField):
    """Positive integer ids; order and duplicates do not matter (the result is sorted)."""

    def parse_item(self, token: str) -> int:
        if not token.isascii() or not token.isdigit() or not 0 < int(token) <= MAX_ID:
            raise serializers.ValidationError(NOT_AN_ID.format(value=token))
        return int(token)


class StatusListField(MultiValueField):
    """Tracker statuses (``in_transit,lost``), validated against TrackerStatus."""

    def parse_item(self, token: str) -> str:
        if token not in TrackerStatus.values:
            raise serializers.ValidationError(
                UNKNOWN_STATUS.format(value=token, choices=", ".join(TrackerStatus.values))
            )
        return token


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter whose absence means its default (not False, as for HTML forms)."""

    default_empty_html = empty


class QueryParamsSerializer(serializers.Serializer):
    """Base: rejects parameters that are not fields of the serializer."""

    def validate_params(self) -> dict:
        """Return the validated parameters or raise ValidationError naming the bad one."""
        allowed = set(self.fields) | ALWAYS_ALLOWED
        unknown = sorted(set(self.initial_data) - allowed)
        if unknown:
            message = UNKNOWN_PARAMETER.format(allowed=", ".join(sorted(self.fields)) or "none")
            raise serializers.ValidationError({name: [message] for name in unknown})
        conflicting = [name for name in sorted(allowed) if _conflicting(self.initial_data, name, self.fields.get(name))]
        if conflicting:
            raise serializers.ValidationError({name: [CONFLICTING_VALUES] for name in conflicting})
        self.is_valid(raise_exception=True)
        return self.validated_data


def _conflicting(query, name: str, field) -> bool:
    # List parameters may repeat (brand_ids=1&brand_ids=2); a scalar may repeat only its value.
    if isinstance(field, MultiValueField) or not hasattr(query, "getlist"):
        return False
    return len(set(query.getlist(name))) > 1


class NoParamsSerializer(QueryParamsSerializer):
    """An endpoint that takes no query parameters."""


class ProductionRunParamsSerializer(QueryParamsSerializer):
    brand_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only the runs of this brand."
    )


class TrackerListParamsSerializer(QueryParamsSerializer):
    brand_ids = IdListField(required=False, help_text="Brand ids: `1,2` and/or repeated `brand_ids=1&brand_ids=2`.")
    production_run_ids = IdListField(required=False, help_text="Production run ids, same forms as brand_ids.")
    status = StatusListField(
        required=False,
        help_text="One or more of " + ", ".join(TrackerStatus.values) + " (`in_transit,lost`, or repeated).",
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_SEARCH_LENGTH,
        help_text="Case-insensitive substring of the serial or the name.",
    )
    include_latest_location = QueryBooleanField(required=False, default=True)
    lazy_load = QueryBooleanField(
        required=False, default=False, help_text="With no filter: the empty page, answered without any query."
    )
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_PAGE)
    size = serializers.IntegerField(
        required=False, min_value=1, help_text="Default TRACKERS_PAGE_SIZE (50), at most TRACKERS_MAX_PAGE_SIZE (500)."
    )

    def validate_size(self, value: int) -> int:
        # Checked per request so override_settings and a changed deployment cap are honoured.
        if value > conf.MAX_PAGE_SIZE:
            raise serializers.ValidationError(SIZE_TOO_LARGE.format(max=conf.MAX_PAGE_SIZE))
        return value


class TrackerStatsParamsSerializer(QueryParamsSerializer):
    brand_ids = IdListField(required=False, help_text="Count only these brands' trackers (`1,2` or repeated).")
    production_run_ids = IdListField(required=False, help_text="Count only these runs' trackers.")
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_SEARCH_LENGTH, help_text="Serial or name substring."
    )


def parse_stats_filters(query_params) -> "TrackerFilters":
    """Return the filters of a statistics request (no status: the counts are by status)."""
    data = TrackerStatsParamsSerializer(data=query_params).validate_params()
    return TrackerFilters(
        brand_ids=data.get("brand_ids", ()),
        production_run_ids=data.get("production_run_ids", ()),
        search=data.get("search", "").strip(),
    )


@dataclass(frozen=True)
class TrackerFilters:
    """The canonical filter set of a tracker-list request (sorted ids; the cache key's params)."""

    brand_ids: tuple[int, ...] = ()
    production_run_ids: tuple[int, ...] = ()
    status: tuple[str, ...] = ()
    search: str = ""
    include_latest_location: bool = True
    lazy_load: bool = False
    page: int = 1
    size: int = 50

    @property
    def applied(self) -> list[str]:
        """Return the names of the filters that narrow the result."""
        names = ("brand_ids", "production_run_ids", "status", "search")
        return [name for name in names if getattr(self, name)]

    def cache_params(self) -> dict:
        """Return the parameters that identify a page (lazy_load only decides whether to query)."""
        return {
            "brand_ids": list(self.brand_ids),
            "production_run_ids": list(self.production_run_ids),
            "status": list(self.status),
            "search": self.search,
            "include_latest_location": self.include_latest_location,
            "page": self.page,
            "size": self.size,
        }


# Distinct valid query strings remembered by parse_tracker_filters. A dashboard sends the same few
# again and again; building the serializer (a deep copy of its fields) costs more than the rest of
# a warm request's view. Bounded, so varied query strings only cycle the cache.
FILTERS_MEMO_SIZE = 256


def parse_tracker_filters(query_params) -> TrackerFilters:
    """Return the canonical TrackerFilters of a query string or raise ValidationError.

    Pure in the query string and the page-size settings, so the result of a valid one is kept
    (``TrackerFilters`` is immutable); an invalid one raises every time and is not kept.
    """
    getlist = getattr(query_params, "getlist", None)
    items = tuple((name, tuple(getlist(name))) for name in query_params) if getlist else None
    if items is None:
        return _parse_tracker_filters(query_params)
    return _remembered_filters(items, conf.PAGE_SIZE, conf.MAX_PAGE_SIZE)


@lru_cache(maxsize=FILTERS_MEMO_SIZE)
def _remembered_filters(items: tuple, page_size: int, max_page_size: int) -> TrackerFilters:
    return _parse_tracker_filters(MultiValueDict({name: list(values) for name, values in items}))


def _parse_tracker_filters(query_params) -> TrackerFilters:
    data = TrackerListParamsSerializer(data=query_params).validate_params()
    return TrackerFilters(
        brand_ids=data.get("brand_ids", ()),
        production_run_ids=data.get("production_run_ids", ()),
        status=data.get("status", ()),
        search=data.get("search", "").strip(),
        include_latest_location=data["include_latest_location"],
        lazy_load=data["lazy_load"],
        page=data["page"],
        size=data.get("size") or conf.PAGE_SIZE,
    )


def parse_params(serializer_class, query_params) -> dict:
    """Return the validated parameters of ``serializer_class`` or raise ValidationError."""
    return serializer_class(data=query_params).validate_params()
