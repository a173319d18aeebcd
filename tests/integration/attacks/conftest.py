# The gateway tests' stack: every service and the gateway, running for real.
from tests.integration.gateway.conftest import stack

__all__ = ["stack"]
