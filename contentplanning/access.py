"""Who may read whose content data: a user their own, staff anyone's."""

from rest_framework.exceptions import NotFound, PermissionDenied

from contentplanning import selectors

NOT_YOUR_DATA = "user_id: you may read only your own data (omit user_id or pass your own id)."
UNKNOWN_USER = "user_id: no user with id {user_id}."
UNKNOWN_STRATEGY = "strategy_id: user {user_id} has no strategy with id {strategy_id}."


def resolve_subject(*, caller, user_id: int | None = None, strategy_id: int | None = None):
    """Return (user, strategy) the caller asked for, or raise 403/404 naming the parameter.

    The permission check comes first, so a non-staff caller learns nothing about other ids.
    """
    if user_id is None or user_id == caller.pk:
        user = caller
    elif not caller.is_staff:
        raise PermissionDenied(NOT_YOUR_DATA)
    else:
        user = selectors.user_get(user_id)
        if user is None:
            raise NotFound(UNKNOWN_USER.format(user_id=user_id))
    strategy = None
    if strategy_id is not None:
        strategy = selectors.strategy_of_user(user_id=user.pk, strategy_id=strategy_id)
        if strategy is None:
            raise NotFound(UNKNOWN_STRATEGY.format(user_id=user.pk, strategy_id=strategy_id))
    return user, strategy
