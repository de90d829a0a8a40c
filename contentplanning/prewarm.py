"""The prewarmer of comprehensive user data (run by ``manage.py prewarm_cache``)."""

from cachecore.api import prewarmer
from contentplanning import services
from contentplanning.conf import NAMESPACE, app_settings


@prewarmer(NAMESPACE)
def warm_user_data(progress=None) -> int:
    """Warm the comprehensive data of the most recently active users (CONTENTPLANNING_PREWARM_USERS)."""
    conf = app_settings()
    return services.user_data_prewarm(limit=conf.prewarm_users, progress=progress, workers=conf.prewarm_workers)
