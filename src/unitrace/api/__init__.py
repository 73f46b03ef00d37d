"""The REST API: app factory, shared dependencies, problem responses."""
