"""Mesos task states that are terminal (mesos-facts §1.5), shared by the master, agents and cluster.

TASK_LOST is listed although a task may come back from it (an unreachable agent re-registering): Mesos
itself treats it as terminal for resource accounting and acknowledgement.
"""

TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
