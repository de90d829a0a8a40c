"""Receivers of the cache engine, connected from CachecoreConfig.ready() and from watch_model().

Model receivers are connected per watched model (``sync_model_receivers``), never for every
sender: a post_delete receiver without a sender makes Django's deletion collector give up its fast
path (one DELETE per queryset) for every model in the project, because it must send the signal
for each row. ``watch_model()`` connects its model at once, so an app may call it from its own
ready() before or after cachecore's; ready() connects whatever was watched before it ran.
"""

import threading

from django.core.signals import request_started
from django.db.models.signals import m2m_changed, post_delete, post_save

from cachecore import coherence, invalidation, relay, watches
from cachecore.conf import settings

_SAVE_DELETE = ((post_save, "cachecore.post_save"), (post_delete, "cachecore.post_delete"))
_M2M_UID = "cachecore.m2m_changed"
_m2m_senders: set = set()
_lock = threading.RLock()


def register_signal_handlers() -> None:
    """Connect the model, request and prewarm receivers (idempotent through dispatch_uid)."""
    watches.on_change(sync_model_receivers)  # watch_model() from now on connects at once
    for model in watches.watched_models():  # and whatever was watched before ready() ran
        sync_model_receivers(model)
    request_started.connect(_start_coherence, dispatch_uid="cachecore.coherence")
    if settings.CACHECORE_PREWARM_ON_START:
        request_started.connect(_prewarm_once, dispatch_uid="cachecore.prewarm_on_start")


def sync_model_receivers(model) -> None:
    """Connect the save/delete receivers to ``model`` and its proxies exactly while they are watched."""
    with _lock:
        for sender in _family(model):
            # A proxy instance is sent with the proxy as sender, and watches_for(proxy) includes
            # its concrete model's watches: connect each member that has any.
            watched = bool(watches.watches_for(sender))
            for signal, uid in _SAVE_DELETE:
                if watched:
                    signal.connect(invalidation.on_save_or_delete, sender=sender, dispatch_uid=uid)
                else:
                    signal.disconnect(sender=sender, dispatch_uid=uid)
        _sync_m2m_receivers()


def _family(model) -> set:
    concrete = model._meta.concrete_model
    family = {model, concrete}
    registry = model._meta.apps  # the global registry, or an isolated one in tests
    if registry.models_ready:
        family.update(m for m in registry.get_models() if m._meta.proxy and m._meta.concrete_model is concrete)
    return family


def _sync_m2m_receivers() -> None:
    # m2m_changed is sent with the through model as sender: connect the through models of every
    # many-to-many relation that has a watched model on either side, and watched through models.
    wanted = set()
    for model in watches.watched_models():
        wanted.add(model)
        if model._meta.apps.models_ready:
            opts = model._meta
            wanted.update(field.remote_field.through for field in opts.many_to_many)
            wanted.update(rel.through for rel in opts.related_objects if rel.many_to_many)
    for sender in wanted - _m2m_senders:
        m2m_changed.connect(invalidation.on_m2m_changed, sender=sender, dispatch_uid=_M2M_UID)
    for sender in _m2m_senders - wanted:
        m2m_changed.disconnect(sender=sender, dispatch_uid=_M2M_UID)
    _m2m_senders.clear()
    _m2m_senders.update(wanted)


def _start_coherence(**kwargs) -> None:
    # Before a request can fill L1 this process must listen for other processes' invalidations;
    # and every serving process runs a relay, so rows left by a dead writer are applied.
    coherence.ensure_started()
    relay.ensure_started()


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
