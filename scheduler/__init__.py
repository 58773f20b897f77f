"""The work that fills the store: scheduler service, pipelines, checks, drift, connectors."""
