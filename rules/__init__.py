"""The integrity rules: what the collectors stored, turned into alerts (floor 2b: reads and writes the
store, may read collectors' settings types; collectors never import it, cli/runtime.py wires it in)."""
