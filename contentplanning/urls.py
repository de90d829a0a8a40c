"""URL routes of this app (see docs/api.md)."""

urlpatterns = []
