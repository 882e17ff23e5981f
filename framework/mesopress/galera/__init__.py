"""Pure Galera logic: positions, the bootstrap choice, full-crash recovery, health, and my.cnf.

Why this package exists: every Galera decision that can lose data is made here, from values, without
I/O (stdlib only), so it can be tested case by case. The task program `mesopress.tasks.galera_node`
and the scheduler's adapters carry the decisions out. See docs/galera.md.
"""
