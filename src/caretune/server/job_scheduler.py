"""The job worker's supervisor: a thread of the server that takes jobs one at a time, in order, and runs
each in its own process (``caretune.server.job_runner``); it stops a paused job's process at a checkpoint.

A separate process keeps training (minutes of CPU, gigabytes of memory) away from the request handlers,
lets a cancel stop it at once (the process is terminated; a Python thread could not be), and means a crash
in training cannot take the API down. The database is the only channel: the API writes requests (new jobs,
cancels), the runner writes progress, this thread moves jobs between states and watches the process. The
API also sets an event when it has written a job, so that this thread looks at once instead of polling the
database every half second while there is nothing to do (each look takes the cores from serving).

A restart loses nothing: a job found ``running`` at start belonged to the previous server (there is one
supervisor per database) and is resumed from its last checkpoint; queued jobs simply wait their turn.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from caretune.server.settings import ServerSettings
from caretune.storage.db import utcnow
from caretune.storage.files import FileStore
from caretune.storage.jobs import Job, add_event, oldest_with_status, transition

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # while a job runs: how soon the end of its process is noticed
# With nothing running, the API's event wakes the thread; this finds a job that another server's API wrote
# to a shared database (PostgreSQL), whose event this server does not see.
IDLE_POLL_SECONDS = 30.0
_STOP_GRACE_SECONDS = 60


@dataclass
class _Running:
    job_id: str
    process: subprocess.Popen


class JobScheduler:
    """Starts queued jobs one at a time and watches the running one until it ends."""

    def __init__(
        self, settings: ServerSettings, sessions: sessionmaker[Session], files: FileStore, wake: threading.Event
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._files = files
        self._wake = wake  # set by the API after it has committed a new or cancelled job
        self._running: _Running | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="caretune-jobs")

    def start(self) -> None:
        """Begin scheduling (resuming a job interrupted by the last shutdown first)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling and the running job's process; the job stays ``running`` and resumes next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=_STOP_GRACE_SECONDS + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                moved = self._tick()
            except Exception:  # noqa: BLE001 - the supervisor must outlive any one bad job or DB hiccup
                log.exception("job scheduler error")
                moved = False
            if not moved:  # after a move, look again at once: the next job may be ready to start
                self._wake.wait(POLL_SECONDS if self._running is not None else IDLE_POLL_SECONDS)
                self._wake.clear()  # what woke it is committed already, so the tick that follows sees it
        self._terminate(graceful=True)

    def _tick(self) -> bool:
        """Take one step of the oldest job that can move; True if a job moved (started, checked, ended)."""
        with self._sessions() as session:
            if self._running is not None:
                return self._watch(session, self._running)
            interrupted = oldest_with_status(session, "running")
            if interrupted is not None:
                add_event(session, interrupted.id, "The server restarted while the job was running; resuming")
                self._launch(interrupted, resume=True)
                return True
            pending = oldest_with_status(session, "validating_files")
            if pending is not None:
                self._validate(session, pending)
                return True
            queued = oldest_with_status(session, "queued")
            if queued is not None and transition(session, queued.id, ("queued",), status="running"):
                # A job queued again after a pause has a run folder: it continues from its last checkpoint.
                resumed = queued.model_dir.exists()
                add_event(session, queued.id, "Fine-tuning job running again" if resumed else "Fine-tuning job started")
                self._launch(queued, resume=resumed)
                return True
            return False

    def _validate(self, session: Session, job: Job) -> None:
        """Check the job's files again (they were checked at upload; they may have been deleted since)."""
        problem = _file_problem(self._files, job)
        if problem is None:
            if transition(session, job.id, ("validating_files",), status="queued"):
                add_event(session, job.id, "Files validated, moving job to queued state")
            return
        param, message = problem
        if transition(
            session, job.id, ("validating_files",), status="failed", finished_at=utcnow(),
            error_code="invalid_file", error_message=message, error_param=param,
        ):
            add_event(session, job.id, message, level="error")

    def _launch(self, job: Job, resume: bool) -> None:
        run_dir = Path(job.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "caretune.server.job_runner", job.id,
            "--database-url", self._settings.resolved_database_url(),
            "--data-dir", str(self._settings.data_dir),
            "--org", self._settings.org,
        ] + (["--resume"] if resume else [])
        with (run_dir / "worker.log").open("ab") as log_file:
            # Its own session: a Ctrl-C at the server's terminal reaches the server only, which then stops
            # the job with one SIGINT (a second one would skip the checkpoint).
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self._running = _Running(job.id, process)

    def _watch(self, session: Session, running: _Running) -> bool:
        """Stop a cancelled job's process, and settle a job whose process has ended; True once it has."""
        job = session.get(Job, running.job_id)
        code = running.process.poll()
        if code is None:
            if job is None or job.status == "cancelled":
                self._terminate(graceful=False)
                return True
            if job.status == "paused":  # stopped like a shutdown: a checkpoint is saved for the resume
                self._terminate(graceful=True)
                return True
            return False
        self._running = None
        if job is not None and job.status == "running":
            message = f"The training process exited unexpectedly (exit code {code}); see {job.run_dir}/worker.log"
            if transition(
                session, job.id, ("running",), status="failed", finished_at=utcnow(),
                error_code="worker_crashed", error_message=message,
            ):
                add_event(session, job.id, message, level="error")
        return True

    def _terminate(self, graceful: bool) -> None:
        """End the running job's process: gracefully (SIGINT: training saves a checkpoint to resume from, used at
        shutdown) or not (SIGTERM, for a cancel); SIGKILL if it does not go in time."""
        if self._running is None:
            return
        process = self._running.process
        process.send_signal(signal.SIGINT if graceful else signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._running = None


def _file_problem(files: FileStore, job: Job) -> tuple[str, str] | None:
    """(param, message) of the first unusable file of the job, or None when all are usable."""
    from caretune.data.validate import validate_file

    for param, file_id in (("training_file", job.training_file), ("validation_file", job.validation_file)):
        if file_id is None:
            continue
        path = files.path(file_id)
        if not path.is_file():
            return param, f"{param} {file_id} no longer exists"
        report = validate_file(path)
        if not report.ok:
            return param, f"{param} {file_id} is not valid fine-tuning data ({len(report.findings)} findings)"
    return None
