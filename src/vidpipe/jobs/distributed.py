"""The distributed runner: Dramatiq on Redis carries job ids to worker processes on any machine.

The job row stays the truth about a job (state, progress, heartbeat, attempts, cancel flag); a
message only says "run job X". Delivery is at least once: Dramatiq acknowledges a message only after
its actor returns, and the claim (a conditional UPDATE on the row) turns a second delivery of a job
that already ran, or runs elsewhere, into a no-op. What a broker can lose (every message, when Redis
restarts without persistence; a message held by a dead worker, which Dramatiq's own maintenance
requeues only when it happens to run) is put right by the sweep: a queued job with no live message
is sent again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.errors import VidpipeError
from vidpipe.jobs.handlers import CLIP_ANALYZE, MANIFEST_PHOTOS, MANIFEST_PROCESS
from vidpipe.settings import JobSettings, Settings

if TYPE_CHECKING:
    from vidpipe.app import AppContext

logger = logging.getLogger(__name__)

QUEUES = ("cpu", "gpu")
# One actor per kind of work: a worker's log, Dramatiq's own tools and any monitoring see them apart.
ACTOR_NAMES = {
    MANIFEST_PROCESS: "vidpipe_manifest_process",
    MANIFEST_PHOTOS: "vidpipe_manifest_photos",
    CLIP_ANALYZE: "vidpipe_clip_analyze",
}


def perform(job_id: str) -> None:
    """The actors' body, run in a worker process (see `jobs.worker`)."""
    from vidpipe.jobs.worker import run_job

    run_job(uuid.UUID(job_id))


@dataclass(frozen=True)
class Messaging:
    """A broker and the actors declared on it, one set per process and settings."""

    broker: RedisBroker
    actors: dict[str, dramatiq.Actor[..., None]]
    redis_url: str
    jobs: JobSettings

    def queue_of(self, kind: str) -> str:
        jobs = self.jobs
        return jobs.clip_queue if kind == CLIP_ANALYZE else jobs.manifest_queue

    def send(self, job_id: uuid.UUID, kind: str) -> None:
        """Put "run ``job_id``" on the queue of its kind."""
        try:
            actor = self.actors[kind]
        except KeyError:
            raise VidpipeError(f"no worker actor for job kind {kind!r}; known: {', '.join(self.actors)}") from None
        message = actor.message(str(job_id))
        queue = self.queue_of(kind)
        if queue != message.queue_name:
            message = message.copy(queue_name=queue)
        self.broker.enqueue(message)

    @property
    def client(self) -> redis.Redis:
        return self.broker.client

    def key(self, *parts: str) -> str:
        return ":".join((self.broker.namespace, *parts))

    def live_job_ids(self) -> set[str]:
        """Job ids with a message that will still be delivered: waiting in a queue, or held by a
        worker whose broker heartbeat is fresh (a dead worker's held messages do not count)."""
        client = self.client
        cutoff_ms = int(time.time() * 1000) - self.broker.heartbeat_timeout
        beats: list[bytes] = list(client.zrangebyscore(self.key("__heartbeats__"), cutoff_ms, "+inf"))  # type: ignore[arg-type]
        workers = [w.decode() for w in beats]
        found: set[str] = set()
        for queue in QUEUES:
            ids = list(client.lrange(self.key(queue), 0, -1))
            for worker in workers:
                ids.extend(client.smembers(self.key(f"__acks__.{worker}.{queue}")))
            if not ids:
                continue
            for body in client.hmget(self.key(f"{queue}.msgs"), ids):
                if body:
                    args = json.loads(body).get("args") or []
                    if args:
                        found.add(str(args[0]))
        return found

    def queue_depths(self) -> dict[str, int]:
        return {queue: int(self.client.llen(self.key(queue))) for queue in QUEUES}

    def live_workers(self) -> int:
        cutoff_ms = int(time.time() * 1000) - self.broker.heartbeat_timeout
        return int(self.client.zcount(self.key("__heartbeats__"), cutoff_ms, "+inf"))


def make_messaging(redis_url: str, jobs: JobSettings) -> Messaging:
    """A Redis broker with vidpipe's actors declared on it.

    No Dramatiq middleware: retries, time limits and ages belong to the job row (attempts, lease,
    cancellation), and two retry systems would fight over one job.
    """
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=redis_url,
        namespace=jobs.redis_namespace,
        middleware=[],
        # A busy worker keeps its broker heartbeat through its idle consumers; one silent for a lease
        # is dead, and its held messages are no longer counted as live by the sweep.
        heartbeat_timeout=int(jobs.lease_seconds * 1000),
        # Safe defaults for connections that Redis or the network drops.
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
    )
    for queue in QUEUES:
        broker.declare_queue(queue)
    actors = {
        kind: dramatiq.actor(actor_name=name, queue_name="cpu", broker=broker)(perform)
        for kind, name in ACTOR_NAMES.items()
    }
    return Messaging(broker, actors, redis_url, jobs)


@lru_cache(maxsize=8)
def _messaging_for(redis_url: str, jobs_json: str) -> Messaging:
    return make_messaging(redis_url, JobSettings.model_validate_json(jobs_json))


def messaging_for(settings: Settings) -> Messaging:
    """One broker per process and settings (its connection pool is shared by every request)."""
    return _messaging_for(settings.redis_url, settings.jobs.model_dump_json())


class DramatiqRunner:
    """Submits jobs to Redis for `vidpipe worker` processes; cancellation travels through the row."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.messaging = messaging_for(ctx.settings)

    def submit(self, job_id: uuid.UUID) -> None:
        with self.ctx.factory() as session:
            kind = jobs_repo.kind_of(session, job_id)
        if kind is None:
            raise VidpipeError(f"no job {job_id}")
        try:
            self.messaging.send(job_id, kind)
        except redis.RedisError as exc:
            # The job is committed as QUEUED: a worker's sweep sends it once Redis answers again.
            logger.warning(
                "job %s is queued but Redis did not take its message (%s); it is sent again later", job_id, exc
            )

    def cancel(self, job_id: uuid.UUID) -> None:
        """Nothing to do here: the run, wherever it is, reads the row's cancel flag at its checkpoints."""

    def close(self, release: bool = False) -> None:
        """Submitting holds nothing open beyond the shared connection pool."""


# ---------------------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepResult:
    recovered: int
    resent: list[uuid.UUID]


def sweep(ctx: AppContext, messaging: Messaging) -> SweepResult:
    """Recover stale jobs, then send again every queued job whose message is gone.

    Just-recovered jobs are checked at once; other queued jobs only after ``resend_after_seconds``
    unchanged, so a job submitted a moment ago is not sent twice. A double send is harmless anyway
    (the claim lets one delivery run it), only wasteful.
    """
    from vidpipe.jobs.recovery import recover_stale_jobs

    jobs = ctx.settings.jobs
    recovered = recover_stale_jobs(ctx.factory, jobs)
    requeued = {r.job_id for r in recovered if r.action == "requeued" and r.job_id is not None}
    with ctx.factory() as session:
        waiting = jobs_repo.queued_jobs_waiting(session, jobs.resend_after_seconds)
        for job_id in requeued:
            kind = jobs_repo.kind_of(session, job_id)
            if kind is not None and all(job_id != j for j, _ in waiting):
                waiting.append((job_id, kind))
    if not waiting:
        return SweepResult(len(recovered), [])
    live = messaging.live_job_ids()
    resent = []
    for job_id, kind in waiting:
        if str(job_id) not in live:
            messaging.send(job_id, kind)
            resent.append(job_id)
            logger.info("job %s (%s) had no message in the broker; sent again", job_id, kind)
    return SweepResult(len(recovered), resent)


class Sweeper:
    """Sweeps every ``sweep_seconds`` on a daemon thread; of all workers, one sweeps at a time (a
    Redis lock that expires by itself, so a dead sweeper never blocks the others)."""

    def __init__(self, ctx: AppContext, messaging: Messaging) -> None:
        self.ctx = ctx
        self.messaging = messaging
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vidpipe-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        every = self.ctx.settings.jobs.sweep_seconds
        lock = self.messaging.key("vidpipe-sweep-lock")
        while not self._stop.wait(every):
            try:
                if self.messaging.client.set(lock, "1", nx=True, px=max(int(every * 900), 100)):
                    sweep(self.ctx, self.messaging)
            except Exception as exc:  # Redis or the database away for a moment: next time
                logger.warning("job sweep failed: %s", exc)


def describe_health(messaging: Messaging) -> dict[str, Any]:
    """What `vidpipe worker --check` and the health endpoint say about the broker."""
    try:
        messaging.client.ping()
    except redis.RedisError as exc:
        return {"ok": False, "url": _safe_url(messaging.redis_url), "error": str(exc)}
    return {
        "ok": True,
        "url": _safe_url(messaging.redis_url),
        "namespace": messaging.broker.namespace,
        "workers": messaging.live_workers(),
        "queued": messaging.queue_depths(),
    }


def _safe_url(url: str) -> str:
    """The Redis URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
