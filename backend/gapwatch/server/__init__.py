"""The FastAPI service: REST API, ingestion and (later) the dashboard. Never imports torch."""
