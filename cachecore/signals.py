"""Receivers of the cache engine, connected once from CachecoreConfig.ready().

The model receivers look the sender up in the watch registry when a signal arrives, so an app
may call ``watch_model()`` from its own ready() before or after this runs.
"""

import threading

from django.core.signals import request_started
from django.db.models.signals import m2m_changed, post_delete, post_save

from cachecore import coherence, invalidation
from cachecore.conf import settings


def register_signal_handlers() -> None:
    """Connect the model, request and prewarm receivers (idempotent through dispatch_uid)."""
    post_save.connect(invalidation.on_save_or_delete, dispatch_uid="cachecore.post_save")
    post_delete.connect(invalidation.on_save_or_delete, dispatch_uid="cachecore.post_delete")
    m2m_changed.connect(invalidation.on_m2m_changed, dispatch_uid="cachecore.m2m_changed")
    request_started.connect(_start_coherence, dispatch_uid="cachecore.coherence")
    if settings.CACHECORE_PREWARM_ON_START:
        request_started.connect(_prewarm_once, dispatch_uid="cachecore.prewarm_on_start")


def _start_coherence(**kwargs) -> None:
    # Before a request can fill L1 this process must listen for other processes' invalidations.
    coherence.ensure_started()


_prewarm_started = threading.Event()


def _prewarm_once(**kwargs) -> None:
    # The first request of a process starts prewarming in the background: ready() may not touch
    # the database, and the first request must not wait for every prewarmer.
    if _prewarm_started.is_set():
        return
    _prewarm_started.set()
    request_started.disconnect(dispatch_uid="cachecore.prewarm_on_start")
    from cachecore import prewarm

    prewarm.start_background()
