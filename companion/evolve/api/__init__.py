"""Evolve's REST API: request serializers, views, routes (mounted at /api/evolve/)."""
