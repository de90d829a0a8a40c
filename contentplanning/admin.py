"""Admin registrations for content planning."""

from django.contrib import admin

from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile


@admin.register(OnboardingProfile)
class OnboardingProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "website", "industry", "updated_at"]
    list_filter = ["industry"]
    search_fields = ["user__username", "website"]
    list_select_related = ["user"]


class CalendarEntryInline(admin.TabularInline):
    model = CalendarEntry
    extra = 0


@admin.register(ContentStrategy)
class ContentStrategyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "updated_at"]
    search_fields = ["name", "user__username"]
    list_select_related = ["user"]
    inlines = [CalendarEntryInline]


@admin.register(CalendarEntry)
class CalendarEntryAdmin(admin.ModelAdmin):
    list_display = ["date", "channel", "title", "status", "strategy"]
    list_filter = ["status", "channel"]
    search_fields = ["title", "strategy__name"]
    list_select_related = ["strategy"]
    date_hierarchy = "date"


@admin.register(ContentPerformance)
class ContentPerformanceAdmin(admin.ModelAdmin):
    list_display = ["date", "user", "strategy", "channel", "impressions", "clicks", "conversions"]
    list_filter = ["channel"]
    search_fields = ["user__username"]
    list_select_related = ["user", "strategy"]
    date_hierarchy = "date"
