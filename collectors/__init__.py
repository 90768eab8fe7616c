"""Collectors: adapters per upstream format, the scheduler and the run pipeline (the rules are in rules/)."""
