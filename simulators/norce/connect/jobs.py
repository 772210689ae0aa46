"""The Job service (Job/Get, GetLog, Restart, Ping) and the worker that processes queued
jobs in order, each after `job_delay` seconds, then posts its JobCompletedEvent."""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any

from simulators.base import Request, Response
from simulators.norce.connect.body import iter_json_items
from simulators.norce.connect.enums import (
    ERROR,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_SUCCEEDED,
    JOB_VALIDATION_FAILED,
)
from simulators.norce.connect.header import METHODS
from simulators.norce.connect.rows import _Run
from simulators.norce.connect.state import ConnectState, _run_time, _timestamp

RESTART_WINDOW = 14 * 24 * 3600  # Norce keeps a job's payload, and so restarts it, for two weeks

BATCH = 2000  # rows applied per hold of the catalogue lock


class _Stopped(Exception):
    """The worker was stopped in the middle of a job."""


class JobService(ConnectState):
    """Jobs: queued by an import call, processed by the worker, read and restarted over HTTP."""

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job has finished; True if they all did in time."""
        deadline = time.time() + timeout
        with self._wake:
            while self._queue or self._busy is not None:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.1))
        return True

    def stop_worker(self) -> None:
        """Stop processing (queued jobs stay queued; the worker starts again with the next job)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)
        self._worker = None
        self._stop.clear()

    def close(self) -> None:
        """Stop the worker and drop the stored payloads (reset)."""
        self.stop_worker()
        self._stop.set()
        shutil.rmtree(self._payloads, ignore_errors=True)

    def resume(self) -> None:
        """Start the worker again if jobs are waiting (after the simulator is started again)."""
        with self.lock:
            if self._queue:
                self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._stop.is_set():
            return
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="norce-connect-jobs", daemon=True)
            self._worker.start()

    def _job_of(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        text = request.query.get("id") or request.query.get("Id") or request.query.get("jobId") or ""
        if not text.strip().lstrip("-").isdigit():
            return None, self._connect_error(400, "The id query parameter (a job id) is required")
        with self.lock:
            job = self.jobs.get(int(text))
        if job is None:
            return None, self._connect_error(404, f"Job {text} not found")
        return job, None

    def render_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job as Job/Get returns it (JobDto, with both Insert and Inserts)."""
        with self.lock:
            dto = {
                key: job[key]
                for key in (
                    "JobId",
                    "StatusId",
                    "StorageName",
                    "Totals",
                    "Insert",
                    "Inserts",
                    "Updates",
                    "Fail",
                    "Start",
                    "Stop",
                    "LastUpdated",
                    "IsFinished",
                    "RunTime",
                )
            }
            dto["Insert"] = job["Inserts"]  # the docs' name; the contracts say Inserts: both are sent
            if job["started"] is not None and not job["IsFinished"]:
                dto["RunTime"] = _run_time(time.time() - job["started"])
            return dto

    def handle_job_get(self, request: Request) -> Response:
        job, error = self._job_of(request)
        return error or Response(body=self.render_job(job))

    def handle_job_log(self, request: Request) -> Response:
        job, error = self._job_of(request)
        if error:
            return error
        with self.lock:
            return Response(body=list(job["log"]))

    def handle_job_restart(self, request: Request) -> Response:
        job, error = self._job_of(request)
        if error:
            return error
        with self.lock:
            job_id = job["JobId"]
            if not job["IsFinished"]:
                return self._connect_error(
                    400,
                    f"Job {job_id} is not finished (StatusId {job['StatusId']}); only finished jobs can be restarted",
                )
            if job["StatusId"] not in (JOB_SUCCEEDED, JOB_FAILED):
                return self._connect_error(
                    400,
                    f"Job {job_id} has StatusId {job['StatusId']}; only jobs that "
                    "succeeded (2) or failed (3) can be restarted",
                )
            if self.clock() - job["created"] > RESTART_WINDOW:
                return self._connect_error(
                    400,
                    f"Job {job_id} was created more than 14 days ago; its payload "
                    "is no longer kept and it cannot be restarted",
                )
            now = self.clock()
            job.update(
                StatusId=JOB_QUEUED,
                IsFinished=False,
                Insert=0,
                Inserts=0,
                Updates=0,
                Fail=0,
                Start=None,
                Stop=None,
                LastUpdated=_timestamp(now),
                RunTime="00:00:00",
                started=None,
                ignored=0,
                deactivated=0,
                log=[],
                fail_fault=False,
                queued=time.time(),
                restarts=job["restarts"] + 1,
            )
            self._queue.append(job_id)
            self._ensure_worker()
            self._wake.notify_all()
            return Response(
                body={
                    "StatusCode": "Accepted",
                    "Description": f"Job {job_id} restarted and queued",
                    "JobId": str(job_id),
                    "ValidationSummary": job["validation"],
                }
            )

    def handle_job_ping(self, request: Request) -> Response:
        return Response(body={"StatusCode": "OK", "Description": "Pong"})

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._queue:
                    self._wake.wait(0.5)
                    continue
                job = self.jobs.get(self._queue[0])
                if job is None:
                    self._queue.popleft()
                    continue
                due = job["queued"] + self.job_delay - time.time()
                if due > 0:
                    self._wake.wait(min(due, 0.5))
                    continue
                self._queue.popleft()
                self._busy = job["JobId"]
                job["started"] = time.time()
                job["Start"] = job["LastUpdated"] = _timestamp(self.clock())
            try:
                status = self._process(job)
            except _Stopped:
                with self._wake:  # back to the queue for when the worker runs again
                    job.update(started=None, Start=None)
                    self._queue.appendleft(job["JobId"])
                    self._busy = None
                    self._wake.notify_all()
                return
            except Exception as exc:  # a simulator bug fails the job rather than the worker
                with self.lock:
                    job["log"].append(self._log_entry(ERROR, f"Processing error: {exc!r}", None))
                status = JOB_FAILED
            with self._wake:
                now = self.clock()
                job.update(
                    StatusId=status,
                    IsFinished=True,
                    Stop=_timestamp(now),
                    LastUpdated=_timestamp(now),
                    RunTime=_run_time(time.time() - job["started"]),
                    Insert=job["Inserts"],
                )
                self._busy = None
                self._wake.notify_all()
            self.sim.send_event(
                "JobCompletedEvent",
                {
                    "ClientId": self.sim.client_id,
                    "ApplicationId": self.sim.application_id,
                    "JobId": job["JobId"],
                    "StatusId": status,
                },
            )

    def _process(self, job: dict[str, Any]) -> int:
        """Apply a job's stored payload; return its final StatusId."""
        if job["fail_fault"]:
            with self.lock:
                job["Fail"] = job["Totals"]
                job["log"].append(self._log_entry(ERROR, "Simulated processing failure", None))
            return JOB_FAILED
        method = METHODS[job["method"].lower()]
        run = _Run(self, job, method)
        with open(job["path"], "rb") as payload:
            batch: list[tuple[int, Any]] = []
            for row_no, item in enumerate(iter_json_items(payload.read), start=1):
                batch.append((row_no, item))
                if len(batch) >= BATCH:
                    run.apply(batch)
                    batch = []
                    if self._stop.is_set():
                        raise _Stopped
            run.apply(batch)
        run.finish()
        return JOB_VALIDATION_FAILED if job["Fail"] else JOB_SUCCEEDED
