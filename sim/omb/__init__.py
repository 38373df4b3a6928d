"""OpenMessaging Benchmark (OMB) workloads in, OMB result files out, on any mqsim broker.

- `load_workload(path)`: an OMB workload file, validated (sim/omb/workload.py).
- `run_workload(workload, RunOptions(driver=...))`: the workload run as OMB's WorkloadGenerator
  runs it, on a driver of `DRIVERS` (sim/omb/mapping.py, sim/omb/runner.py).
- `OmbRun.test_result()` and `write_result`: OMB's TestResult (sim/omb/result.py).
"""

from sim.omb.mapping import DRIVERS, Driver, driver_of
from sim.omb.presets import PRESETS, Preset, preset_of
from sim.omb.result import dumps, test_result, write_result
from sim.omb.runner import OmbRun, ProbeSettings, RunOptions, run_workload
from sim.omb.workload import Workload, load_workload

__all__ = [
    "DRIVERS",
    "PRESETS",
    "Driver",
    "OmbRun",
    "Preset",
    "ProbeSettings",
    "RunOptions",
    "Workload",
    "driver_of",
    "dumps",
    "load_workload",
    "preset_of",
    "run_workload",
    "test_result",
    "write_result",
]
