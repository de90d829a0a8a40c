"""Request parsers: DRF's, with every malformed body answered by a 400."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "body: JSON parse error - nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; errors name the body, and one nested too deeply is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        """Return the parsed body or raise ParseError."""
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # json.loads raises it for e.g. 100 000 nested "[": not a ValueError
            raise ParseError(TOO_DEEP) from None
        except ParseError as exc:
            raise ParseError(f"body: {exc.detail}") from None
