# The gateway tests' stack: every service and the gateway, running for real.
from tests.integration.gateway.conftest import services_config, stack

__all__ = ["services_config", "stack"]
