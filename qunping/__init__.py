"""qunping (群评): community mass evaluations and pledge cycles, event-sourced."""
