"""The project's DRF exception handler: a detail that names the field, however deep."""

from config.exceptions import field_messages


def test_flat_errors_keep_their_form():
    assert list(field_messages({"page": ["too big.", "not even."]})) == [("page", "too big.; not even.")]


def test_nested_errors_are_named_by_their_path():
    errors = {"reports": {0: ["This field may not be null."]}, "meta": {"owner": {"id": ["bad."]}}}
    assert list(field_messages(errors)) == [
        ("reports.0", "This field may not be null."),
        ("meta.owner.id", "bad."),
    ]


def test_a_list_serializers_errors_skip_the_valid_items():
    errors = {"items": [{}, {"serial": ["required."]}, {}]}
    assert list(field_messages(errors)) == [("items.1.serial", "required.")]
