"""A Visma.net ERP (Visma Net Financials) API simulator."""
