"""Collectors: adapters per upstream format, the scheduler, the run pipeline and alert rules."""
