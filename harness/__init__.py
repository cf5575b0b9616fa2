"""Real local services and fixtures for the tests and the benchmarks (not shipped in the package).

Scratch PostgreSQL databases and leased Redis databases on the shared servers, child-process environments,
a fleet's loopback settings, the caching proxy, and pages published through the real pipeline steps.
"""
