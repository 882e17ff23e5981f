"""Adapters: the only modules that talk to the outside world (kazoo, pymesos, pymysql, processes).

They carry out what the pure core decided and translate library errors into the core's own errors.
"""
