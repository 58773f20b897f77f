"""Connectors to systems outside the store: an MLflow registry and webhook receivers."""
