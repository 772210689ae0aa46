"""The read-only status API other systems use to follow Brygga (`/api/v1/`)."""
