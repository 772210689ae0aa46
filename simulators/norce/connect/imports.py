"""The import methods: POST /commerce/connect/4.0/{Product|Customer}/Import…, answered at
once with a JobResponse once the body is spooled to the job's payload file."""

from __future__ import annotations

import os
import time

from simulators.base import Request, Response
from simulators.norce.common import CONNECT_BASE, QUERY_BASE
from simulators.norce.connect.body import BodyError, _BytesReader, iter_json_items
from simulators.norce.connect.control import ConnectControl
from simulators.norce.connect.enums import JOB_QUEUED
from simulators.norce.connect.header import LEGACY_ALIASES, METHODS, HeaderError, parse_header
from simulators.norce.connect.jobs import JobService
from simulators.norce.connect.skus import ProductSkuQuery
from simulators.norce.connect.state import _timestamp

KEEP_ITEMS_UP_TO = 1000  # an import record keeps its items only for calls this small


class ConnectImports(JobService, ProductSkuQuery, ConnectControl):
    """Connect 4.0 imports, jobs and the catalogue they write; made by NorceSimulator as `sim.connect`."""

    ROUTES: tuple[tuple[str, str, str, bool], ...] = (
        ("POST", CONNECT_BASE + r"/(?P<service>Product|Customer)/(?P<method>Import\w+)", "handle_import", True),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/Get", "handle_job_get", False),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/GetLog", "handle_job_log", False),
        ("POST", CONNECT_BASE + r"(?:/api)?/Job/Restart", "handle_job_restart", False),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/Ping", "handle_job_ping", False),
        ("GET", QUERY_BASE + r"/Products/ProductSkus", "handle_query_product_skus", False),
        ("GET", r"/_sim/connect/state", "control_state", False),
        ("POST", r"/_sim/connect/settings", "control_settings", False),
        ("POST", r"/_sim/connect/seed", "control_seed", False),
        ("GET", r"/_sim/connect/skus/(?P<key>[^/]+)", "control_sku", False),
        ("GET", r"/_sim/connect/customers/(?P<key>[^/]+)", "control_customer", False),
        ("GET", r"/_sim/connect/companies/(?P<key>[^/]+)", "control_company", False),
        ("GET", r"/_sim/connect/jobs/(?P<key>\d+)", "control_job", False),
        ("POST", r"/_sim/connect/jobs/(?P<key>\d+)/age", "control_age_job", False),
    )

    def handle_import(self, request: Request) -> Response:
        name = request.params["method"].lower()
        method = METHODS.get(LEGACY_ALIASES.get(name, name))
        if method is None or method.service.lower() != request.params["service"].lower():
            return self._connect_error(
                404, f"{request.params['service']}/{request.params['method']} is not an import method of the simulator"
            )
        try:
            header = parse_header(method, request.header("x-stormconnect-header", None))
        except HeaderError as exc:
            return self._connect_error(400, str(exc))
        if "xml" in request.header("content-type").lower():
            return self._connect_error(400, "Only JSON bodies are supported by the simulator")

        with self.lock:
            job_id = self._next_job_id
            self._next_job_id += 1
        path = os.path.join(self._payloads, f"job-{job_id}.json")
        reader = request.stream.read if request.stream is not None else _BytesReader(request.body).read
        total, failures, messages, items = 0, 0, [], []
        try:
            with open(path, "wb") as spool:
                for value in iter_json_items(reader, tee=spool.write):
                    total += 1
                    if not isinstance(value, dict):
                        failures += 1
                        if len(messages) < 100:
                            messages.append(f"Row {total}: expected a JSON object, got {type(value).__name__}")
                    if items is not None:
                        items.append(value)
                        if len(items) > KEEP_ITEMS_UP_TO:
                            items = None
        except BodyError as exc:
            os.unlink(path)
            return self._connect_error(400, str(exc))
        except BaseException:  # the client went away mid-body, or the disk is full
            if os.path.exists(path):
                os.unlink(path)
            raise

        now = self.clock()
        summary = {"NrOfItemsInTotal": total, "NrOfValidationFailures": failures, "Messages": messages}
        with self.lock:
            fail = self.fail_next_jobs > 0
            if fail:
                self.fail_next_jobs -= 1
            self.jobs[job_id] = {
                "JobId": job_id,
                "StatusId": JOB_QUEUED,
                "StorageName": f"connect/{method.name}/{job_id}.json",
                "Totals": total,
                "Insert": 0,
                "Inserts": 0,
                "Updates": 0,
                "Fail": 0,
                "Start": None,
                "Stop": None,
                "LastUpdated": _timestamp(now),
                "IsFinished": False,
                "RunTime": "00:00:00",
                # The simulator's own bookkeeping.
                "method": method.name,
                "header": header,
                "full_file": header["FullFile"] and method.full_file,
                "created": now,
                "queued": time.time(),
                "started": None,
                "ignored": 0,
                "deactivated": 0,
                "restarts": 0,
                "log": [],
                "validation": summary,
                "path": path,
                "fail_fault": fail,
            }
            self.imports.append(
                {
                    "method": method.name,
                    "header": header,
                    "count": total,
                    "job_id": job_id,
                    "full_file": header["FullFile"],
                    "time": now,
                    "items": items,
                }
            )
            self._queue.append(job_id)
            self._ensure_worker()
            self._wake.notify_all()
        # JobResponse.StatusCode's literal values are undocumented; "Accepted" says what
        # happened (stored and queued), and clients should rely on the HTTP status and JobId.
        return Response(
            body={
                "StatusCode": "Accepted",
                "Description": f"{method.name}: {total} item(s) received, job {job_id} queued",
                "JobId": str(job_id),
                "ValidationSummary": summary,
            }
        )
