"""Stand-in agency systems and the service portal, served over real HTTP for the demo and tests."""
