"""Durable scheduler state: a small persister interface, an in-memory persister, and the store on top.

Nothing here imports kazoo: the ZooKeeper persister lives in `mesopress.adapters.zkstore`.
"""

from mesopress.state.persister import (
    AccessDenied,
    Delete,
    Fence,
    Fenced,
    NotFound,
    Persister,
    Put,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "AccessDenied",
    "Delete",
    "Fence",
    "Fenced",
    "NotFound",
    "Persister",
    "Put",
    "StoreError",
    "StoreUnavailable",
]
