"""Bridges to the tools a team already runs (MLflow tracking and registry)."""
