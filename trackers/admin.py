"""Admin registrations for the trackers domain (no N+1 lists: list_select_related everywhere)."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from trackers.models import (
    Brand,
    Client,
    ClientMembership,
    DeliveryLocation,
    Image,
    LocationHistory,
    ProductionRun,
    StorageLocation,
    SyncWatermark,
    Tracker,
)


class MembershipInline(admin.TabularInline):
    model = ClientMembership
    extra = 0
    autocomplete_fields = ["user"]


class UserMembershipInline(admin.TabularInline):
    """The user's client memberships, editable on the user's page (they decide what the user sees)."""

    model = ClientMembership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["client"]
    verbose_name = "client membership"
    verbose_name_plural = "client memberships (the data this user may see; staff see everything)"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserWithMembershipsAdmin(UserAdmin):
    """Django's user admin plus the client memberships inline."""

    inlines = [*UserAdmin.inlines, UserMembershipInline]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(ClientMembership)
class ClientMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "role", "created_at"]
    list_filter = ["role", "client"]
    search_fields = ["user__username", "client__name"]
    list_select_related = ["user", "client"]
    autocomplete_fields = ["user", "client"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "client"]
    list_filter = ["client"]
    search_fields = ["name", "client__name"]
    list_select_related = ["client"]


@admin.register(ProductionRun)
class ProductionRunAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "start_date"]
    list_filter = ["brand__client", "brand"]
    search_fields = ["name", "brand__name"]
    list_select_related = ["brand"]
    date_hierarchy = "start_date"


@admin.register(StorageLocation, DeliveryLocation)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "latitude", "longitude"]
    search_fields = ["name", "city"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["title", "url"]
    search_fields = ["title"]


@admin.register(Tracker)
class TrackerAdmin(admin.ModelAdmin):
    list_display = [
        "serial",
        "name",
        "client",
        "production_run",
        "current_status",
        "last_report_received",
        "latest_location",
    ]
    list_filter = ["current_status", "production_run__brand__client", "production_run__brand"]
    search_fields = ["serial", "name"]
    # The latest location is read from the current-state columns (kept by sync_tracker_state),
    # and the client through these joins: one query for the page, whatever its size.
    list_select_related = ["production_run", "production_run__brand", "production_run__brand__client"]
    raw_id_fields = ["production_run", "storage_location", "delivery_location", "image"]
    show_full_result_count = False

    @admin.display(description="client", ordering="production_run__brand__client__name")
    def client(self, obj):
        return obj.production_run.brand.client

    @admin.display(description="latest location", ordering="latest_timestamp")
    def latest_location(self, obj):
        if obj.latest_history_id is None:
            return "— (not synced yet)"
        when = f" at {obj.latest_timestamp:%Y-%m-%d %H:%M}" if obj.latest_timestamp else ""
        return f"{obj.latest_nearest_city or '?'} ({obj.latest_latitude:.4f}, {obj.latest_longitude:.4f}){when}"

    actions = ["sync_state_now"]

    @admin.action(description="Sync current state from location history now (all trackers)")
    def sync_state_now(self, request, queryset):
        # The sync is incremental and global: the selection only starts it.
        run_sync_from_admin(request)


@admin.register(LocationHistory)
class LocationHistoryAdmin(admin.ModelAdmin):
    list_display = ["tracker", "timestamp", "latitude", "longitude", "nearest_city", "confidence"]
    list_filter = ["nearest_city"]
    search_fields = ["tracker__serial"]
    list_select_related = ["tracker"]
    raw_id_fields = ["tracker"]
    date_hierarchy = "timestamp"
    show_full_result_count = False


@admin.register(SyncWatermark)
class SyncWatermarkAdmin(admin.ModelAdmin):
    list_display = ["name", "last_history_id", "updated_at", "last_run_rows", "last_run_trackers", "last_run_seconds"]
    readonly_fields = list_display
    change_list_template = "admin/trackers/syncwatermark/change_list.html"

    def get_urls(self):
        sync_now = self.admin_site.admin_view(self.sync_now_view)
        return [path("sync-now/", sync_now, name="trackers_syncwatermark_sync_now"), *super().get_urls()]

    @staticmethod
    def has_sync_permission(request) -> bool:
        return request.user.has_perm("trackers.change_syncwatermark")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sync_now": self.has_sync_permission(request)}
        return super().changelist_view(request, extra_context)

    @method_decorator(require_http_methods(["GET", "POST"]))
    def sync_now_view(self, request):
        """Confirm (GET) and run (POST) the state sync, then return to the watermark list."""
        if not self.has_sync_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            run_sync_from_admin(request)
            return redirect("admin:trackers_syncwatermark_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Sync tracker state now",
            "opts": self.model._meta,
            "watermarks": SyncWatermark.objects.all(),
            "max_batches": ADMIN_SYNC_MAX_BATCHES,
        }
        return TemplateResponse(request, "admin/trackers/syncwatermark/sync_now.html", context)


# A web request must not run for minutes: the admin applies at most this many batches per click.
ADMIN_SYNC_MAX_BATCHES = 20


def run_sync_from_admin(request) -> None:
    """Run one bounded state sync and report its outcome as an admin message."""
    from trackers.sync import SyncAlreadyRunning, sync_tracker_state

    if not request.user.has_perm("trackers.change_syncwatermark"):
        raise PermissionDenied
    try:
        result = sync_tracker_state(max_batches=ADMIN_SYNC_MAX_BATCHES)
    except SyncAlreadyRunning as exc:
        messages.warning(request, str(exc))
        return
    level = messages.SUCCESS if result.rows or result.stale_marked else messages.INFO
    messages.add_message(request, level, f"State sync: {result.summary()}")
    if not result.complete:
        messages.warning(request, f"Stopped after {ADMIN_SYNC_MAX_BATCHES} batches; run it again or use the command.")
