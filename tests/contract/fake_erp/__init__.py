"""A small ERP that lives in memory: a connector package of Brygga's shape, listed in
settings.BRYGGA_CONNECTORS by the tests that use it, and nothing else."""
