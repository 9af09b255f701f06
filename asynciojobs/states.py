"""The run states of a job (``job._aj_state``), in the order a run goes through them.

A skipped job (a requirement failed under the "skip" policy) never ran: its state is below
every other, so that ``state >= SCHEDULED`` means "was started".
"""

IDLE, SCHEDULED, RUNNING, DONE, SKIPPED = 0, 1, 2, 3, -1
