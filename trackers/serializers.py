"""Output serializers of the trackers read API.

Reference serializers run only when a cache entry is computed: the cached value is their output,
so a cache hit never serializes again. The tracker list, statistics and scope bodies are built as
plain dicts by the selectors; their serializers here describe the schema (OpenAPI) and are the
single source of the field names.
"""

from rest_framework import serializers

from trackers.models import Brand, Client, DeliveryLocation, Image, ProductionRun, StorageLocation, TrackerStatus


class ClientOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "name"]


class BrandOutputSerializer(serializers.ModelSerializer):
    client_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Brand
        fields = ["id", "name", "client_id", "logo"]


class ProductionRunOutputSerializer(serializers.ModelSerializer):
    brand_id = serializers.IntegerField(read_only=True)
    # Denormalised so the scope filter runs on the cached list without a join.
    client_id = serializers.IntegerField(source="brand.client_id", read_only=True)

    class Meta:
        model = ProductionRun
        fields = ["id", "name", "brand_id", "client_id", "start_date"]


class BrandItemSerializer(BrandOutputSerializer):
    """A brand as served: the cached row plus its derived count (merged in, not serialized)."""

    production_run_count = serializers.IntegerField(read_only=True, help_text="Production runs of this brand.")

    class Meta(BrandOutputSerializer.Meta):
        fields = [*BrandOutputSerializer.Meta.fields, "production_run_count"]


class ProductionRunItemSerializer(ProductionRunOutputSerializer):
    """A run as served: the cached row plus its derived count (merged in, not serialized)."""

    tracker_count = serializers.IntegerField(read_only=True, help_text="Trackers of this production run.")

    class Meta(ProductionRunOutputSerializer.Meta):
        fields = [*ProductionRunOutputSerializer.Meta.fields, "tracker_count"]


class StorageLocationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = StorageLocation
        fields = ["id", "name", "city", "latitude", "longitude"]


class DeliveryLocationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryLocation
        fields = ["id", "name", "city", "latitude", "longitude"]


class ImageOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "title", "url"]


class LatestLocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    timestamp = serializers.DateTimeField()
    nearest_city = serializers.CharField(allow_blank=True)
    confidence = serializers.FloatField(allow_null=True)


class TrackerItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    serial = serializers.CharField()
    name = serializers.CharField()
    client_id = serializers.IntegerField()
    brand_id = serializers.IntegerField()
    production_run_id = serializers.IntegerField()
    current_status = serializers.ChoiceField(choices=TrackerStatus.choices)
    last_report_received = serializers.DateTimeField(allow_null=True)
    latest_location = LatestLocationSerializer(
        allow_null=True,
        required=False,
        help_text="Null when the tracker has no report; omitted when include_latest_location=false.",
    )


class TrackerPageSerializer(serializers.Serializer):
    items = TrackerItemSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    pages = serializers.IntegerField()


class BrandCountSerializer(serializers.Serializer):
    brand_id = serializers.IntegerField()
    brand_name = serializers.CharField()
    client_id = serializers.IntegerField()
    count = serializers.IntegerField()


class RunCountSerializer(serializers.Serializer):
    production_run_id = serializers.IntegerField()
    production_run_name = serializers.CharField()
    brand_id = serializers.IntegerField()
    count = serializers.IntegerField()


class TrackerDetailSerializer(TrackerItemSerializer):
    brand_name = serializers.CharField()
    production_run_name = serializers.CharField()
    trail = LatestLocationSerializer(many=True, help_text="The latest 20 reports, newest first.")


class TrackerStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text="Every status, zeros included.")
    by_brand = BrandCountSerializer(many=True)
    by_production_run = RunCountSerializer(many=True)
    no_report_24h = serializers.IntegerField(
        help_text="Trackers whose last report is older than TRACKERS_STALE_AFTER_HOURS (or that never reported)."
    )
    stale_after_hours = serializers.IntegerField()
    computed_at = serializers.DateTimeField()


class ScopeSummarySerializer(serializers.Serializer):
    client_ids = serializers.ListField(child=serializers.IntegerField())
    all_clients = serializers.BooleanField(help_text="True for staff, who see every client.")
    brand_count = serializers.IntegerField()
    production_run_count = serializers.IntegerField()
    tracker_count = serializers.IntegerField()
    lazy_mode = serializers.BooleanField()
    lazy_threshold = serializers.IntegerField()
