"""Hostile-input suite (issue 18): hypothesis settings shared by its property tests — bounded examples so the
suite stays fast, no deadline (the first example pays for heavy imports), no example database in the tree."""
from hypothesis import HealthCheck, settings

settings.register_profile("hostile", max_examples=40, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("hostile")
