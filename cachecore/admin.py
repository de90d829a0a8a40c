"""Admin for the L3 cache table: inspect entries, invalidate them, delete expired ones."""

import json

from django.contrib import admin, messages
from django.utils import timezone
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


@admin.register(CacheEntry)
class CacheEntryAdmin(admin.ModelAdmin):
    """Read-only view of the cache table with invalidation and cleanup actions."""

    list_display = (
        "namespace",
        "user_id",
        "strategy_id",
        "scope",
        "created_at",
        "expires",
        "last_accessed",
        "access_count",
        "expired",
    )
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

    def get_search_results(self, request, queryset, search_term):
        """Search by exact user id; a non-numeric term matches nothing instead of erroring."""
        term = search_term.strip().removeprefix("user:")
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(user_id=int(term)), False

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        return "never" if obj.expires_at >= NEVER else obj.expires_at

    @admin.display(description="expired", boolean=True)
    def expired(self, obj):
        return obj.expires_at <= timezone.now()

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        value = obj.payload.get("v") if isinstance(obj.payload, dict) else obj.payload
        return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))

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
