"""The Fortnox simulator."""
