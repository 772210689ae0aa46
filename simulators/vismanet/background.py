"""The background API: any request with ``erp-api-background`` runs as a job.

    <any request> + erp-api-background: none | subscription[:h1=v1,h2=v2] → 202 {"id", "stateLocation"}
    GET /v1/background/{id}           the job's state
    GET /v1/background/{id}/content   the original answer (status, headers, body)

The simulator runs the request at once and keeps its answer; a state older than 24 h on
the simulator's clock answers 410, another company's job 403. With ``subscription``, a
``BACKGROUND_API_RESPONSE`` notification goes to the company's webhook URL carrying the
given name/value pairs as HTTP headers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.base import Handler, Request, Response
from simulators.vismanet.api import VismaNetApi
from simulators.vismanet.company import Company
from simulators.vismanet.errors import ApiError, Fault, not_found, validation

RESULT_LIFETIME = timedelta(hours=24)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BackgroundResource(VismaNetApi):
    """Background jobs of `VismaNetSimulator`."""

    def _run_in_background(self, request: Request, handler: Handler, mode: str) -> Response:
        company: Company = request.company  # type: ignore[attr-defined]
        headers: dict[str, str] = {}
        if mode.lower() == "none":
            subscribed = False
        elif mode.lower().startswith("subscription"):
            subscribed = True
            extra = mode.split(":", 1)[1] if ":" in mode else ""
            for pair in filter(None, (p.strip() for p in extra.split(","))):
                name, sep, value = pair.partition("=")
                if not sep or not name.strip():
                    return self.error_response(400, f"Invalid erp-api-background header pair {pair!r}")
                headers[name.strip()] = value.strip()
        else:
            return self.error_response(
                400, "erp-api-background must be 'none' or 'subscription[:name=value,...]'", Fault.VALIDATION
            )
        job_id = str(uuid.uuid4())
        received = utc_now()
        answer = handler(request)
        job = {
            "id": job_id,
            "status": "Finished" if answer.status < 400 else "Failed",
            "statusCode": answer.status,
            "receivedUtc": received,
            "startedUtc": received,
            "finishedUtc": utc_now(),
            "webhookAddress": company.webhook_url if subscribed else None,
            "errorMessage": answer.body.get("ExceptionMessage") if isinstance(answer.body, dict) else None,
            "reference": None,
            "originalUri": f"{self.url}{request.path}",
            "hasResponseContent": answer.body is not None,
            "hasRequestContent": bool(request.body),
            "contentLocation": f"{self.url}/v1/background/{job_id}/content",
            "responseHeaders": dict(answer.headers),
            "_received": self.clock(),
            "_answer": answer,
        }
        with self.lock:
            company.background[job_id] = job
            if subscribed:
                self.notify(
                    company,
                    "BackgroundApiOperation",
                    "ResponseReady",
                    job_id,
                    event="BACKGROUND_API_RESPONSE",
                    headers=headers,
                    extra={"statusCode": answer.status, "stateLocation": f"{self.url}/v1/background/{job_id}"},
                )
        return Response(status=202, body={"id": job_id, "stateLocation": f"{self.url}/v1/background/{job_id}"})

    def _job(self, request: Request, company: Company) -> dict[str, Any]:
        job_id = request.params["job_id"]
        for other in self.companies.values():
            if other is not company and job_id in other.background:
                raise ApiError(403, "The background operation belongs to another company.", Fault.FORBIDDEN)
        job = company.background.get(job_id)
        if job is None:
            raise not_found("Background operation", job_id)
        if self.clock() - job["_received"] > RESULT_LIFETIME:
            raise ApiError(410, f"The background operation '{job_id}' has expired.", Fault.GONE)
        return job

    def _get_job(self, request: Request, company: Company) -> Response:
        job = self._job(request, company)
        return Response(body={k: v for k, v in job.items() if not k.startswith("_")})

    def _get_job_content(self, request: Request, company: Company) -> Response:
        job = self._job(request, company)
        answer: Response = job["_answer"]
        if answer.body is None and not job["responseHeaders"]:
            raise validation("The background operation has no response content")
        return Response(status=answer.status, body=answer.body, headers=dict(answer.headers))
