"""The scheduler's HTTP API: thin routes over the runner's published snapshot (see docs/scheduler.md).

Why a package of its own: the API is the operator's window and the standby's redirector; it must never
decide anything, so it reads snapshots and submits commands, and it is kept apart from the adapters.
"""
