"""qunping's services: one package each, owning its own event log and database."""
