"""The Norce simulator's own control endpoints: orders, the receiver, events, the push
settings and faults, and the trickle (the routes are listed in `simulators.norce.server`)."""

from __future__ import annotations

from simulators.base import Request, Response, Simulator


class ControlApi(Simulator):
    """The /_sim/ endpoints of `NorceSimulator` (no auth, not rate limited)."""

    def _control_list_orders(self, request: Request) -> Response:
        every = dict.fromkeys(self.QUERY_EXPANDS)
        with self.lock:
            orders = [
                dict(
                    self.render_query_order(o, expand=every),
                    _push_state=self.push_state.get(ref),
                    _defects=o.get("_defects", []),
                )
                for ref, o in self.orders.items()
            ]
        return Response(body={"orders": orders})

    def _control_place_order(self, request: Request) -> Response:
        body = request.json() if request.body.strip() else None
        try:
            order = self.place_order(body or None)
        except ValueError as exc:
            return Response(status=400, body={"error": str(exc)})
        return Response(
            status=201,
            body={"ClientOrderRef": order["ClientOrderRef"], "OrderRequest": self.render_order_request(order)},
        )

    def _control_receiver(self, request: Request) -> Response:
        body = request.json() or {}
        self.configure_receiver(body["url"], body.get("username", ""), body.get("password", ""))
        return Response(body={"receiver": body["url"]})

    def _control_events(self, request: Request) -> Response:
        body = request.json() or {}
        self.configure_events(
            body["url"], body.get("headers") or {}, event_types=body.get("event_types") or ("OrderReceivedEvent",)
        )
        return Response(body={"events": sorted(self.event_subscriptions)})

    def _control_settings(self, request: Request) -> Response:
        names = {
            "lose_pushes",
            "duplicate_pushes",
            "lose_events",
            "enum_style",
            "key_case",
            "push_retry_delays",
            "event_retry_delays",
            "push_timeout",
            "event_timeout",
            "fail_after_commit",
        }
        body = request.json() or {}
        unknown = sorted(set(body) - names)
        if unknown:
            return Response(status=400, body={"error": f"unknown setting {unknown[0]!r}"})
        if body.get("enum_style", "names") not in ("names", "ints") or body.get("key_case", "pascal") not in (
            "pascal",
            "camel",
        ):
            return Response(status=400, body={"error": "enum_style is names|ints, key_case is pascal|camel"})
        with self.lock:
            for key, value in body.items():
                setattr(self, key, value)
        return Response(body={name: getattr(self, name) for name in sorted(names)})

    def _control_trickle(self, request: Request) -> Response:
        body = request.json() or {}
        self.start_trickle(
            float(body.get("interval_seconds", 5.0)),
            body.get("rng_seed"),
            float(body.get("unknown_article_rate", 0.0)),
            float(body.get("missing_data_rate", 0.0)),
        )
        return Response(body={"trickle": True})
