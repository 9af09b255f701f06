"""asynciojobs: a scheduler of asyncio jobs with dependencies (no SSH in here).

Compatible with the public asynciojobs API (old names included), on a sound engine:
O(jobs + edges), task group, semaphore window, loop-clock timeouts, re-runnable jobs,
per-job timeout/retries, skip policy, statistics and a job-events stream.
"""

from .errors import (
    AsyncioJobsError,
    CycleError,
    ForeignRequirementError,
    GraphvizMissingError,
    JobReuseError,
    JobSkipped,
    NestedLoopError,
    SchedulerTimeoutError,
)
from .events import EventQueue, JobEvent
from .job import AbstractJob, Job
from .monitor import Monitor
from .render import Statistics
from .scheduler import PureScheduler, Scheduler
from .sequence import Sequence
from .watch import PrintJob, Watch

__version__ = "0.1.0"

Engine = Scheduler  # name of the Scheduler before asynciojobs 0.4
SchedulerJob = Scheduler  # name of the nestable scheduler in asynciojobs 0.8-0.9

__all__ = [
    "AbstractJob",
    "AsyncioJobsError",
    "CycleError",
    "Engine",
    "EventQueue",
    "ForeignRequirementError",
    "GraphvizMissingError",
    "Job",
    "JobEvent",
    "JobReuseError",
    "JobSkipped",
    "Monitor",
    "NestedLoopError",
    "PrintJob",
    "PureScheduler",
    "Scheduler",
    "SchedulerJob",
    "SchedulerTimeoutError",
    "Sequence",
    "Statistics",
    "Watch",
    "__version__",
]
