"""What an operator runs and the tables their tools load, above the services.

The `qunping` command (`cli`), the local supervisor of every service (`launcher`), the
local RabbitMQ and MongoDB (`infra`), the public event contract's documents (`contract`),
the sample district (`sample`), and who may do what on the broker and in MongoDB
(`broker_access`, `database_access`). It may import any service; no service imports it
(an import-linter `layers` contract keeps it so). The list of services it reads is
`qunping.core.registry`, beneath the services, which the gateway reads too.
"""
