"""Inside a worker process started by `vidpipe worker`: the broker Dramatiq consumes, the process's
engine (models loaded once, kept for every job), and the hooks for start-up and shutdown.

Dramatiq's command line imports this module in every worker process it forks and consumes from the
``broker`` attribute, so the broker is built at import, from the settings in the environment.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from vidpipe.jobs.distributed import Messaging, Sweeper, messaging_for
from vidpipe.jobs.execution import execute_job
from vidpipe.jobs.progress import RELEASED, StopSignal
from vidpipe.settings import get_settings

if TYPE_CHECKING:
    from vidpipe.app import AppContext

logger = logging.getLogger("vidpipe.worker")

_lock = threading.Lock()
_ctx: AppContext | None = None
_running: dict[uuid.UUID, StopSignal] = {}


def worker_context() -> AppContext:
    """This process's engine: one database pool, one store, one set of models for all its jobs."""
    global _ctx
    from vidpipe.app import AppContext

    with _lock:
        if _ctx is None:
            _ctx = AppContext.open(get_settings())
        return _ctx


def run_job(job_id: uuid.UUID) -> None:
    """Run one delivered job to its end (or note that it already ran or runs elsewhere)."""
    ctx = worker_context()
    stop = StopSignal()
    with _lock:
        _running[job_id] = stop
    logger.info("job %s started", job_id)
    try:
        ran = execute_job(ctx, job_id, stop=stop)
    finally:
        with _lock:
            _running.pop(job_id, None)
    if not ran:
        logger.info("job %s: already taken or ended; message dropped", job_id)
        return
    if stop.reason == RELEASED:
        # This worker is stopping and handed the job back: its row is QUEUED again, and a new message
        # lets another worker take it now rather than at the next sweep.
        ctx.job_runner.submit(job_id)
        logger.info("job %s handed back to the queue", job_id)
    else:
        logger.info("job %s ended", job_id)


class WorkerLifecycle(Middleware):
    """Loads the models when a worker process starts, sweeps while it runs, and on shutdown
    (SIGTERM, Ctrl-C) hands its running jobs back at their next checkpoint instead of losing them."""

    def __init__(self, messaging: Messaging) -> None:
        self.messaging = messaging
        self.sweeper: Sweeper | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        # Forked worker processes may share a broker object built before the fork, and with it its
        # id, under which Redis keeps a worker's heartbeat and the messages it holds: one id per
        # process, so a dead process's messages are not taken for a live sibling's.
        if isinstance(broker, RedisBroker):
            broker.broker_id = str(uuid.uuid4())

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        ctx = worker_context()
        ctx.toolkit()  # loaded once per process, before the first job waits for it
        self.sweeper = Sweeper(ctx, self.messaging)
        self.sweeper.start()
        queues = getattr(worker, "consumer_whitelist", None) or broker.get_declared_queues()
        logger.info("worker ready (queues: %s)", ", ".join(sorted(queues)))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        with _lock:
            stops = list(_running.values())
        for stop in stops:
            stop.set(RELEASED)
        if stops:
            logger.info("stopping: handing %d running job(s) back to the queue", len(stops))


messaging = messaging_for(get_settings())
broker = messaging.broker
broker.add_middleware(WorkerLifecycle(messaging))
dramatiq.set_broker(broker)
