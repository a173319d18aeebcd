"""The shared library of every qunping service: event log, envelope, relay, projections.

It knows nothing of ballots or pledges: it names the services (`registry`) and imports none
of them, nor the operator's code above them (an import-linter contract keeps it so).
"""
