"""Request and response shapes of POST /api/location-reports/.

The body's envelope (a list of objects, its size) is checked here; each report's fields are
validated by ``trackers.ingest`` (shared with ``import_locations``), so the report serializer
below describes the schema for OpenAPI and is not used to parse.
"""

from rest_framework import serializers


class LocationReportSerializer(serializers.Serializer):
    """One report (schema only; trackers.ingest.parse_report validates it)."""

    serial = serializers.CharField(max_length=64, help_text="Tracker serial (within the caller's clients).")
    timestamp = serializers.DateTimeField(help_text="ISO 8601; without an offset it is UTC.")
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    nearest_city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)


class LocationReportBatchSerializer(serializers.Serializer):
    """The request body: ``{"reports": [...]}``."""

    reports = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


class LocationReportBatchSchema(serializers.Serializer):
    """The request body as OpenAPI shows it."""

    reports = LocationReportSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Reports in the request.")
    created = serializers.IntegerField(help_text="History rows written (all of them, or the request failed).")
    trackers = serializers.IntegerField(help_text="Distinct trackers the reports belong to.")
    state_updated = serializers.IntegerField(
        help_text="Trackers whose current state moved forward (a report older than the state is stored only)."
    )


class RowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the report in `reports` (0-based).")
    serial = serializers.CharField(allow_null=True)
    errors = serializers.DictField(child=serializers.CharField(), help_text="Message per field.")


class IngestRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = RowErrorSerializer(many=True)
