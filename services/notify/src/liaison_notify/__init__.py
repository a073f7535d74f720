"""Liaison notify: duties and reminders."""
