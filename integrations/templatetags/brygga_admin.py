"""What the admin index shows at a glance."""

from __future__ import annotations

from django import template

from integrations import selectors

register = template.Library()


@register.simple_tag
def connectors_needing_reconnect():
    """Connectors a person must connect again; their integrations wait until then."""
    return selectors.connectors_needing_reconnect()
