"""Infrastructure shared by the Liaison services; it holds no domain types."""
