"""Connect 4.0 imports for the Norce simulator: Product and Customer import methods,
the Job service and a lean in-memory catalogue, served by `NorceSimulator`.

    POST /commerce/connect/4.0/Product/ImportProducts        (+ legacy ImportProduct)
    POST /commerce/connect/4.0/Product/ImportSkuPriceLists   (+ ImportSkuPriceList)
    POST /commerce/connect/4.0/Product/ImportOnhands         (+ ImportOnhand)
    POST /commerce/connect/4.0/Customer/ImportCustomers      (+ ImportCustomer)
    POST /commerce/connect/4.0/Customer/ImportCompanies      (+ ImportCompany)
    GET  /commerce/connect/4.0/[api/]Job/Get?id=             JobDto
    GET  /commerce/connect/4.0/[api/]Job/GetLog?id=          [JobLogDto]
    POST /commerce/connect/4.0/[api/]Job/Restart?id=         JobResponse
    GET  /commerce/connect/4.0/[api/]Job/Ping
    GET  /commerce/query/2.0/Products/ProductSkus            Query 2.0 (OData) SKU listing

An import call is answered at once with a JobResponse (the job is Queued, StatusId
6); a worker thread processes the jobs in order after `job_delay` seconds and ends
each one Succeeded (2), Failed (3) or Validation failed (4), then posts a
`JobCompletedEvent`. Bodies are read as a stream and parsed item by item: the payload
is spooled to a file (the job's stored payload, re-read when the job is processed
or restarted), so neither the body text nor the parsed list is ever held whole.

Control endpoints (no auth, not rate limited):

    GET  /_sim/connect/state              counts and settings
    POST /_sim/connect/settings           {"job_delay", "fail_next_jobs", "reject_rows"}
    POST /_sim/connect/seed               {"skus": [...]} or [...]: SKUs not from any import
    GET  /_sim/connect/skus/<PartNo>      the SKU, its product, prices and onhands
    GET  /_sim/connect/customers/<Code>   GET /_sim/connect/companies/<Code>
    GET  /_sim/connect/jobs/<id>          the job, its log and its import record
    POST /_sim/connect/jobs/<id>/age      {"days": 15}: move the job's creation back
"""

from __future__ import annotations

from simulators.norce.connect.body import BodyError, iter_json_items
from simulators.norce.connect.imports import ConnectImports

__all__ = ["BodyError", "ConnectImports", "iter_json_items"]
