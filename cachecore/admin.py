"""Admin for the L3 cache table: inspect entries, invalidate them, delete expired ones."""

import json

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from cachecore import maintenance, report
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.tiers import NEVER


class ExpiredFilter(admin.SimpleListFilter):
    """Filter rows by whether they have expired."""

    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(expires_at__gt=now)
        return queryset


def _short(moment) -> str:
    """Return a compact local date and time (the list must fit 1280 px)."""
    if moment is None:
        return "-"
    return date_format(timezone.localtime(moment), "M j, H:i")


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MiB"


def _shape(value) -> str:
    if isinstance(value, dict):
        return f"{len(value)} keys"
    if isinstance(value, list):
        return f"{len(value)} items"
    return type(value).__name__


@admin.register(CacheEntry)
class CacheEntryAdmin(admin.ModelAdmin):
    """Read-only view of the cache table with invalidation and cleanup actions."""

    # Short cells so the list fits 1280 px: one "for" column instead of user/strategy/scope, short dates.
    list_display = ("namespace", "target", "created", "expires", "accessed", "access_count", "validity")
    list_filter = ("namespace", ExpiredFilter)
    search_fields = ("user_id",)
    search_help_text = "Search by user id (exact), e.g. 7."
    ordering = ("-last_accessed",)
    list_per_page = 50
    actions = ("invalidate_selected", "delete_expired")
    fields = (
        "namespace",
        "key_hash",
        "user_id",
        "strategy_id",
        "scope",
        "generation",
        "data_hash",
        "created_at",
        "expires_at",
        "last_accessed",
        "access_count",
        "pretty_payload",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ["cachecore/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        """Search by exact user id; a non-numeric term matches nothing instead of erroring."""
        term = search_term.strip().removeprefix("user:")
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(user_id=int(term)), False

    @admin.display(description="for", ordering="user_id")
    def target(self, obj):
        parts = [
            f"user {obj.user_id}" if obj.user_id is not None else "",
            f"strategy {obj.strategy_id}" if obj.strategy_id else "",
        ]
        label = ", ".join(p for p in parts if p) or obj.scope or "all"
        return format_html('<span title="scope: {}">{}</span>', obj.scope or "-", label)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return _short(obj.created_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        return "never" if obj.expires_at >= NEVER else _short(obj.expires_at)

    @admin.display(description="last access", ordering="last_accessed")
    def accessed(self, obj):
        return _short(obj.last_accessed)

    @admin.display(description="state", ordering="expires_at")
    def validity(self, obj):
        if obj.expires_at <= timezone.now():
            return format_html('<span class="cw-state {}">{}</span>', "cw-expired", "expired")
        return format_html('<span class="cw-state {}">{}</span>', "cw-valid", "valid")

    @admin.display(description="value")
    def pretty_payload(self, obj):
        value = obj.payload.get("v") if isinstance(obj.payload, dict) else obj.payload
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html(
            '<details class="cw-value"><summary>Show the value ({}, {})</summary><pre>{}</pre></details>',
            _size(len(text.encode())),
            _shape(value),
            text,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Invalidate selected (their namespace/scope on every tier)", permissions=["delete"])
    def invalidate_selected(self, request, queryset):
        targets = maintenance.invalidate_entries(queryset, source="admin")
        described = ", ".join(f"{ns} ({scope})" if scope else ns for ns, scope in targets)
        message = f"Invalidated {len(targets)} namespace/scope pair(s): {described}."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Delete expired entries (all of them, not only the selected)", permissions=["delete"])
    def delete_expired(self, request, queryset):
        result = maintenance.cleanup_expired()
        noun = "entry" if result.deleted == 1 else "entries"
        self.message_user(request, f"Deleted {result.deleted} expired cache {noun}.", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        snapshot = report.stats()
        extra_context = {**(extra_context or {}), "cache_stats": snapshot, "cache_tiers": snapshot["tiers"]}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(CacheGeneration)
class CacheGenerationAdmin(admin.ModelAdmin):
    """Read-only view of the durable generations L3 rows are checked against.

    Nothing may be added, changed or deleted here: deleting a row resets its token to the initial
    one and could revive a retired cache row. Invalidate through the cache entries' action or
    ``manage.py invalidate_cache`` instead.
    """

    list_display = ("namespace", "scope", "token", "updated_at")
    list_filter = ("namespace",)
    search_fields = ("=namespace", "scope")
    ordering = ("namespace", "scope")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
