"""The /_sim/connect/ control endpoints: state, settings, seeding, and the SKUs, customers, companies and jobs."""

from __future__ import annotations

from simulators.base import Request, Response
from simulators.norce.connect.state import ConnectState


class ConnectControl(ConnectState):
    """What a test or the demo reads and switches of the Connect imports (no auth, not rate limited)."""

    def control_state(self, request: Request) -> Response:
        return Response(body={**self.counts(), "settings": self.settings()})

    def control_settings(self, request: Request) -> Response:
        try:
            return Response(body=self.update_settings(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return Response(status=400, body={"error": str(exc)})

    def control_seed(self, request: Request) -> Response:
        body = request.json() or {}
        skus = body.get("skus", []) if isinstance(body, dict) else body
        try:
            created = self.seed_skus(skus)
        except (TypeError, ValueError) as exc:
            return Response(status=400, body={"error": str(exc)})
        return Response(body={"created": created, "skus": len(self.skus)})

    def control_sku(self, request: Request) -> Response:
        part_no = request.params["key"]
        with self.lock:
            sku = self.skus.get(part_no)
            if sku is None:
                return Response(status=404, body={"error": f"no SKU {part_no!r}"})
            prices = [dict(p) for key, p in self.prices.items() if key[0] == part_no]
            onhands = [dict(o) for key, o in self.onhands.items() if key[0] == part_no]
            return Response(
                body={
                    "sku": sku,
                    "product": self.product_of(part_no),
                    "variant": self.variants.get(sku.get("ManufacturerPartNo") or ""),
                    "prices": prices,
                    "onhands": onhands,
                }
            )

    def control_customer(self, request: Request) -> Response:
        customer = self.customer(request.params["key"])
        return Response(body=customer) if customer else Response(status=404, body={"error": "no such customer"})

    def control_company(self, request: Request) -> Response:
        company = self.company(request.params["key"])
        return Response(body=company) if company else Response(status=404, body={"error": "no such company"})

    def control_job(self, request: Request) -> Response:
        with self.lock:
            job = self.jobs.get(int(request.params["key"]))
            if job is None:
                return Response(status=404, body={"error": "no such job"})
            record = next((dict(i, items=None) for i in self.imports if i["job_id"] == job["JobId"]), None)
            extra = {k: v for k, v in job.items() if k not in ("path",)}
            return Response(body={"job": self.render_job(job), **extra, "import": record})

    def control_age_job(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            self.age_job(int(request.params["key"]), float(body.get("days", 15)))
        except KeyError:
            return Response(status=404, body={"error": "no such job"})
        return self.control_job(request)
