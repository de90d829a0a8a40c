"""Read endpoints of the trackers app: reference data, tracker list, stats, scope."""

urlpatterns = []
