"""Benchmarks run by `make bench` against the station's real servers (see `bench.__main__`)."""
