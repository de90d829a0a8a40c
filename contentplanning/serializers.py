"""Query parameter serializers of the content-planning API (errors name the parameter)."""

from rest_framework import serializers

from contentplanning.workflows import WIZARD_STEPS

POSITIVE_ID = {"invalid": "must be a positive integer.", "min_value": "must be a positive integer."}


class SubjectQuerySerializer(serializers.Serializer):
    """Whose data: ``user_id`` (default: the caller) and an optional ``strategy_id``."""

    user_id = serializers.IntegerField(required=False, min_value=1, error_messages=POSITIVE_ID)
    strategy_id = serializers.IntegerField(required=False, min_value=1, error_messages=POSITIVE_ID)


class UserDataQuerySerializer(SubjectQuerySerializer):
    force_refresh = serializers.BooleanField(
        required=False, default=False, error_messages={"invalid": "must be a boolean (true/false, 1/0, yes/no)."}
    )


class CalendarDraftQuerySerializer(SubjectQuerySerializer):
    start = serializers.DateField(required=False, error_messages={"invalid": "must be a date (YYYY-MM-DD)."})
    weeks = serializers.IntegerField(
        required=False,
        default=4,
        min_value=1,
        max_value=26,
        error_messages={
            "invalid": "must be an integer from 1 to 26.",
            "min_value": "must be an integer from 1 to 26.",
            "max_value": "must be an integer from 1 to 26.",
        },
    )


class InvalidateQuerySerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, error_messages=POSITIVE_ID)
    strategy_id = serializers.IntegerField(required=False, min_value=1, error_messages=POSITIVE_ID)


class WizardStepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(
        choices=WIZARD_STEPS, error_messages={"invalid_choice": f"must be one of {', '.join(WIZARD_STEPS)}."}
    )
