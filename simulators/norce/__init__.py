"""The Norce Commerce simulator: Checkout push, Query 2.0, Connect imports."""
