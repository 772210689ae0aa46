"""Brygga's bottom layer: the error type and catalogue, the canonical records and the ports.

It imports nothing of Brygga's own; every other layer builds on it.
"""
