"""POST /api/location-reports/: a thin view over trackers.ingest."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.parsers import JSONParser
from config.throttling import ScopedThrottle
from trackers import ingest_serializers as io
from trackers.ingest import BatchTooLarge, IngestRejected, ingest_location_reports
from trackers.scope import user_writable_client_ids

BODY_SHAPE = 'the body must be an object {"reports": [...]} or a list of reports.'
ROLE_REQUIRED = (
    "Posting location reports needs the operator or admin role on a client (or staff); your memberships are read-only."
)


class LocationReportIngestApi(APIView):
    """Append a batch of location reports, all or nothing."""

    # Token first: an unauthenticated device gets 401 with "WWW-Authenticate: Token", not a bare 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]  # a batch is JSON; a form post gets 415
    throttle_classes = [ScopedThrottle]  # INGEST_THROTTLE_RATE per user; 429 with Retry-After
    throttle_scope = "ingest"

    @extend_schema(
        tags=["trackers"],
        description=(
            "Append location reports for trackers of the clients where the caller is an operator or admin "
            "(staff: any; a viewer-only user gets 403). Authenticate with a "
            "staff session or `Authorization: Token <key>`. The batch is validated row by row and written all "
            "or nothing; a 400 lists every invalid report by its index. At most TRACKERS_INGEST_MAX_BATCH "
            "reports per request (413 above). A serial outside those clients is reported exactly like "
            "an unknown serial."
        ),
        request=io.LocationReportBatchSchema,
        responses={
            201: io.IngestResultSerializer,
            400: OpenApiResponse(io.IngestRejectedSerializer, description="Invalid reports; nothing was written."),
            401: OpenApiResponse(description="Not authenticated (WWW-Authenticate: Token)."),
            403: OpenApiResponse(description="The caller has no operator or admin membership."),
            413: OpenApiResponse(description="Too many reports in one request."),
            429: OpenApiResponse(description="More than INGEST_THROTTLE_RATE requests (Retry-After says when)."),
        },
    )
    def post(self, request):
        client_ids = user_writable_client_ids(request.user)
        if client_ids is not None and not client_ids:
            return Response({"detail": ROLE_REQUIRED}, status=status.HTTP_403_FORBIDDEN)
        envelope = io.LocationReportBatchSerializer(data=_envelope(request.data))
        envelope.is_valid(raise_exception=True)
        reports = envelope.validated_data["reports"]
        try:
            result = ingest_location_reports(reports=reports, client_ids=client_ids)
        except BatchTooLarge as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except IngestRejected as exc:
            body = {"detail": rejected_detail(exc), "errors": [error.as_dict() for error in exc.errors]}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(io.IngestResultSerializer(result).data, status=status.HTTP_201_CREATED)


def rejected_detail(exc: IngestRejected) -> str:
    """Return the 400's detail: the count, then the first bad field by its path (``reports.1.latitude``)."""
    first = exc.errors[0]
    name, message = next(iter(first.errors.items()))
    path = "reports" if first.index < 0 else f"reports.{first.index}.{name}"
    return f"reports: {exc} First: {path}: {message}"


def _envelope(data):
    # A bare JSON list is accepted as the reports themselves; any other non-object (null, a
    # number, a string) is named as "reports" rather than DRF's "non_field_errors".
    if isinstance(data, list):
        return {"reports": data}
    if not isinstance(data, dict):
        raise ValidationError({"reports": [BODY_SHAPE]})
    return data
