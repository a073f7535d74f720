"""Liaison cases: opinions, suggestions and requests."""
