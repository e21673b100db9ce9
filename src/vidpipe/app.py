"""The application context: everything the engine needs, built from settings in one place.

The CLI, the demo, the benches, the tests (and the API and workers) open one with `AppContext.open`
and hand it to the services; none of them wires databases, migrations, stores or models by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.engine import make_engine, session_factory
from vidpipe.db.migrate import is_current, upgrade
from vidpipe.settings import Settings, get_settings
from vidpipe.storage import Store, make_store

if TYPE_CHECKING:
    from vidpipe.describe.describer import Describer
    from vidpipe.jobs.embedded import EmbeddedRunner
    from vidpipe.jobs.recovery import Recovery
    from vidpipe.jobs.runner import JobRunner
    from vidpipe.pipeline.toolkit import VisionToolkit


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    store: Store
    # Tests and benches share models across contexts (loading them takes seconds); else made on first use.
    shared_toolkit: VisionToolkit | None = None
    # A describer every run uses instead of the configured chain (tests, benches).
    describer_override: Describer | None = None
    recovered: list[Recovery] = field(default_factory=list)
    # Set when another process (a worker) runs this one's jobs: the runner then only queues.
    queue_only: bool = False
    _runner: EmbeddedRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        toolkit: VisionToolkit | None = None,
        describer: Describer | None = None,
        recover: bool = True,
    ) -> AppContext:
        """Connect to the registry (migrating it to the newest schema first) and, unless told not to,
        recover jobs whose process died (see `jobs.recovery`)."""
        from vidpipe.jobs.recovery import recover_stale_jobs

        settings = settings or get_settings()
        url = settings.resolved_database_url
        engine = make_engine(url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
        if not is_current(engine):
            upgrade(url)
        ctx = cls(
            settings=settings,
            engine=engine,
            factory=session_factory(engine),
            store=make_store(settings),
            shared_toolkit=toolkit,
            describer_override=describer,
        )
        if recover:
            ctx.recovered = recover_stale_jobs(ctx.factory, settings.jobs)
        return ctx

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together at the end, or not at all."""
        with self.factory() as session, session.begin():
            yield session

    @property
    def job_runner(self) -> JobRunner:
        """Where requested work goes: worker processes through Redis (the dramatiq backend), this
        process's runner, or the queue alone when a worker process beside this one runs the jobs."""
        from vidpipe.jobs.runner import QueueOnlyRunner

        if self.settings.jobs.backend == "dramatiq":
            from vidpipe.jobs.distributed import DramatiqRunner

            return DramatiqRunner(self)
        return QueueOnlyRunner() if self.queue_only else self.runner

    @property
    def runner(self) -> EmbeddedRunner:
        """The job runner of this process (the embedded thread pool), started on first use."""
        from vidpipe.jobs.embedded import EmbeddedRunner

        with self._lock:
            if self._runner is None:
                self._runner = EmbeddedRunner(self)
            return self._runner

    def toolkit(self) -> VisionToolkit:
        """The vision models, loaded once per context (or the shared ones)."""
        from vidpipe.pipeline.toolkit import VisionToolkit

        with self._lock:
            if self.shared_toolkit is None:
                self.shared_toolkit = VisionToolkit.create(self.settings)
            return self.shared_toolkit

    def describer(self, providers: list[str] | None = None, *, force: bool = False) -> Describer:
        """The describer chain for a run: the configured providers, or ``providers`` in their place."""
        from vidpipe.describe.chain import build_describer

        if self.describer_override is not None:
            return self.describer_override
        settings = self.settings.with_describers(providers, force=force)
        return build_describer(settings)
