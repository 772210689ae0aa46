"""Django admin: where support staff set up integrations and follow every record.

History (tasks, log entries, records, webhook deliveries) is read-only: editing it
would falsify what happened. Operations (test a connection, run a flow, retry) are
admin actions and buttons on the change page; they call the service functions.

Importing this package registers every screen, in the order below; django-q2's own
screens are made read-only last.
"""

# isort: off
from integrations.admin import display, views
from integrations.admin import setup, connectors, flows
from integrations.admin import activity, entities
from integrations.admin import jobs

# isort: on

__all__ = ["activity", "connectors", "display", "entities", "flows", "jobs", "setup", "views"]
