"""Benchmarks of newsmill stages on the development data beside the project."""
