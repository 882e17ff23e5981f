"""Pure state machines: `transition(state, event, now) -> Result(kind, state, effects)`.

Why this package exists: every stateful thing the framework manages gets one machine written as a
transition table (data) plus small actions, so that each (state, event) pair is decided on purpose and
the full from-by-to matrix is tested. Nothing here does I/O or reads a clock; the caller stores the new
state, then runs the effects in order (record before you send).

- `result`: Result, Kind and the Effect base shared by all machines;
- `instance_events`: goals, Mesos conditions, events and effects of a pod instance;
- `instance`: a pod instance (transient vs permanent failure, replacement, decommission);
- `reservation`: a dynamic reservation and its persistent volume (lost operations, clean-up).
"""
