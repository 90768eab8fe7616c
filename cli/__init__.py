"""The `opscentre` command line: the one place that wires the layers together."""
