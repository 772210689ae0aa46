"""An ERP staff connect by consent, like Fortnox but with an OAuth module of its own: a connector
package listed in settings.BRYGGA_CONNECTORS by the admin tests that use it, and nothing else."""
