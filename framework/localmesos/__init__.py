"""localmesos: a local Mesos-compatible cluster (one master, N agents) speaking the v1 scheduler API.

It exists because Apache Mesos cannot be installed on our machines, yet mesopress must be tested against
something that behaves like Mesos. See docs/localmesos.md for the design and the list of differences.
This package imports nothing from mesopress.
"""
