"""Liaison records: returnee files, households, deputies, visits."""
