"""The auditors' tools (纪委): verify every log, replay the projections, export, print notices."""
