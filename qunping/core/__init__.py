"""The shared library of every qunping service: event log, envelope, relay, projections.

It knows nothing of ballots or pledges (an import-linter contract keeps it so).
"""
