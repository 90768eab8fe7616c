"""Stand-in agency systems and the service portal, served over real HTTP for the demo and tests.

``await start(SimulatorConfig(port=0))`` runs one in-process on the current event loop;
:func:`main` is the standalone runner (``opscentre simulate``, ``python -m simulator``).
docs/agency-json.md describes the endpoints and formats.
"""

from simulator.faults import Fault, FaultError, FaultTable, load_faults
from simulator.runner import main
from simulator.server import Simulator, SimulatorConfig, start

__all__ = ["Fault", "FaultError", "FaultTable", "Simulator", "SimulatorConfig", "load_faults", "main", "start"]
