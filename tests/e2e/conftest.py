"""End-to-end world: Norce and Fortnox simulators over real HTTP, Brygga's live server
(the order receiver), and a real django-q2 cluster in a child process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.demo import create_norce_erp_integration
from integrations.engine.tokens import store_tokens
from integrations.models import Connector, Integration, Merchant
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.server import NorceSimulator
from simulators.vismanet.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from simulators.vismanet.server import DEFAULT_TENANT_ID, VismaNetSimulator
from tests.conftest import NORCE_CREDENTIALS, build_integration
from tests.e2e.harness import QCluster

pytestmark = pytest.mark.e2e

E2E_COMMIT_WAIT = 3


@pytest.fixture
def fortnox() -> Iterator[FortnoxSimulator]:
    sim = FortnoxSimulator()
    sim.seed_demo()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def norce() -> Iterator[NorceSimulator]:
    sim = NorceSimulator(seed=11)
    sim.push_retry_delays = [0.5, 1, 2, 3, 5, 8]
    sim.event_retry_delays = [0.5, 1, 2]
    sim.start()
    yield sim
    sim.stop_trickle()
    sim.stop()


@pytest.fixture
def wired(transactional_db, live_server, norce, fortnox) -> Integration:
    """A Norce ↔ Fortnox integration pointing at the simulators, connected to Fortnox."""
    integration = build_integration(
        norce_url=norce.url, fortnox_url=fortnox.url, flow_settings={"freight_article": "FRAKT"}
    )
    erp = integration.connectors.get(role=Connector.Role.ERP)
    # After an unclear create, wait 3 s (not 180) for the simulator to commit before looking up.
    erp.settings = {**erp.settings, "commit_wait_seconds": E2E_COMMIT_WAIT}
    erp.save()
    store_tokens(erp, fortnox.issue_tokens("fortnox-client"))
    norce.configure_receiver(f"{live_server.url}/norce/{integration.pk}/orders", "norce", "receiver-secret-value")
    return integration


@pytest.fixture
def cluster(transactional_db) -> Iterator[QCluster]:
    q = QCluster().start()
    yield q
    q.stop()


MASTER_SETTINGS = {
    "products_to_commerce": {"max_wait_seconds": 0},
    "prices_to_commerce": {"max_wait_seconds": 0, "norce_price_list_code": "SEK-WEB"},
    "stock_to_commerce": {"max_wait_seconds": 0, "warehouse_code": "WH1", "location_code": "LOC1"},
    "customers_to_commerce": {"max_wait_seconds": 0},
}


@pytest.fixture
def master_flows(wired, norce) -> dict:
    """The wired integration's four master-data flows (ERP → Norce), sending at once, with
    Norce's Connect jobs processed 0.2 s after they are queued. Returns {kind: Flow}."""
    from integrations.demo import add_master_data_flows

    norce.connect.job_delay = 0.2
    return add_master_data_flows(wired, settings={kind: dict(values) for kind, values in MASTER_SETTINGS.items()})


VISMANET_WEBHOOK_SECRET = "visma-hook-secret-value"


@pytest.fixture
def vismanet() -> Iterator[VismaNetSimulator]:
    """The Visma.net simulator over real HTTP, seeded with the demo company (the webshop's catalogue)."""
    sim = VismaNetSimulator()
    sim.seed_demo()
    sim.start()
    yield sim
    sim.stop()


def build_vismanet_integration(
    *, norce_url: str, vismanet_url: str, flow_settings: dict | None = None, erp_settings: dict | None = None
) -> Integration:
    """A Norce ↔ Visma.net integration (orders flow only) pointing at the simulators."""
    merchant, _ = Merchant.objects.get_or_create(slug="nordljus", defaults={"name": "Nordljus AB"})
    return create_norce_erp_integration(
        merchant=merchant,
        name="Webshop ↔ Visma.net",
        norce_url=norce_url,
        norce_settings={"application_id": 1244, "client_id_number": 1234, "scope": "playground", "account_id": 10000},
        norce_credentials=NORCE_CREDENTIALS,
        erp_system=Connector.System.VISMANET,
        erp_url=vismanet_url,
        erp_settings={
            "tenant_id": DEFAULT_TENANT_ID,
            "salesorder_url": vismanet_url,
            # After an unclear create, wait 3 s (not the production default) before looking up.
            "commit_wait_seconds": E2E_COMMIT_WAIT,
            **(erp_settings or {}),
        },
        erp_credentials={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "webhook_secret": VISMANET_WEBHOOK_SECRET,
        },
        flow_settings={"freight_article": "FRAKT", **(flow_settings or {})},
    )


@pytest.fixture
def visma_wired(transactional_db, live_server, norce, vismanet) -> Integration:
    """A Norce ↔ Visma.net integration on the simulators: Norce pushes its orders to Brygga's
    receiver and Visma.net sends its notifications to Brygga's endpoint (header-less, by ?token=)."""
    integration = build_vismanet_integration(norce_url=norce.url, vismanet_url=vismanet.url)
    norce.configure_receiver(f"{live_server.url}/norce/{integration.pk}/orders", "norce", "receiver-secret-value")
    vismanet.configure_webhooks(
        f"{live_server.url}/vismanet/{integration.pk}/notifications", secret=VISMANET_WEBHOOK_SECRET
    )
    return integration
