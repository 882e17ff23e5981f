"""Is a new configuration a safe update of the running one? Reasons if not.

Stateful pods own reservations and volumes on particular agents, so some edits cannot be carried
out without losing data or stranding an instance; those are refused with the reason and the fix, and
the caller keeps the old configuration (nothing changes). Refused: renaming the service, changing its
role or principal (every reservation is labelled/reserved with them), removing a pod, a count below
1, removing, moving (``container_path``), shrinking, growing or adding a volume of an existing
pod, changing its ports, and tightening placement unless every existing instance already satisfies
the new rules (checked by the injected ``verify_placement``, because where instances run is runtime
state this layer does not hold). Allowed, and applied on the next (re)launch: cpus, mem, command,
environment, user, checks, kill grace period, higher and lower counts, new pods, looser placement.
A lower count decommissions the surplus instances, highest index first, one at a time
(`plans.decommission`): each is drained, killed, its volume destroyed and its resources unreserved,
then its record forgotten; Galera's own rule (odd, at least 3) is checked by the Galera kind.
"""

from __future__ import annotations

from collections.abc import Callable

from mesopress.model.specs import PlacementSpec, PodSpec, ServiceSpec, VolumeSpec

PlacementVerifier = Callable[[PodSpec], list[str]]


def check_update(
    old: ServiceSpec, new: ServiceSpec, verify_placement: PlacementVerifier | None = None
) -> list[str]:
    """Every reason ``new`` cannot replace ``old``; an empty list means the update is safe."""
    reasons = _check_service(old, new)
    for old_pod in old.pods:
        new_pod = new.pod(old_pod.name)
        if new_pod is None:
            reasons.append(
                f"pods[{old_pod.name}]: removing a pod is not supported: its instances own reservations and "
                f"volumes; put pod {old_pod.name} back"
            )
            continue
        reasons += check_pod(old_pod, new_pod, verify_placement)
    return reasons


def _check_service(old: ServiceSpec, new: ServiceSpec) -> list[str]:
    reasons = []
    for name in ("name", "role", "principal"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            reasons.append(
                f"{name}: cannot change from {before!r} to {after!r}: existing reservations carry it; "
                f"set it back to {before!r}"
            )
    return reasons


def check_pod(old: PodSpec, new: PodSpec, verify_placement: PlacementVerifier | None = None) -> list[str]:
    """Reasons an existing pod cannot take its new spec."""
    path = f"pods[{old.name}]"
    reasons = []
    if new.count < 1:
        reasons.append(
            f"{path}.count: cannot go below 1 (asked {new.count}): a pod keeps at least one instance; "
            f"set count to 1 or more"
        )
    reasons += _check_volumes(old, new, path)
    if old.ports != new.ports:
        reasons.append(
            f"{path}.ports: cannot change the ports of an existing pod: they are reserved; restore them"
        )
    reasons += _check_placement(old, new, path, verify_placement)
    return reasons


def _check_volumes(old: PodSpec, new: PodSpec, path: str) -> list[str]:
    removed = [v.container_path for v in old.volumes if new.volume(v.container_path) is None]
    added = [v.container_path for v in new.volumes if old.volume(v.container_path) is None]
    reasons = [
        f"{path}.volumes[{before}].container_path: cannot change to {after}: a volume cannot move; "
        f"set it back to {before}"
        for before, after in zip(removed, added, strict=False)
    ]
    reasons += [
        f"{path}.volumes[{gone}]: cannot remove a volume of an existing pod; restore container_path {gone}"
        for gone in removed[len(added) :]
    ]
    reasons += [
        f"{path}.volumes[{extra}]: cannot add a volume to an existing pod: its instances cannot get a new "
        "volume on their agents; remove it or add a new pod"
        for extra in added[len(removed) :]
    ]
    return reasons + [
        _check_size(v.size, new.volume(v.container_path), f"{path}.volumes[{v.container_path}]")
        for v in old.volumes
        if new.volume(v.container_path) not in (None, v)
    ]


def _check_size(before: int, after: VolumeSpec | None, where: str) -> str:
    size = after.size if after else before
    if size < before:
        return f"{where}.size: cannot shrink from {before} to {size} MiB; set it back to {before}"
    return (
        f"{where}.size: growing a volume ({before} to {size} MiB) is not supported; set it back to {before}"
    )


def _check_placement(old: PodSpec, new: PodSpec, path: str, verify: PlacementVerifier | None) -> list[str]:
    if is_looser(old.placement, new.placement):
        return []
    if verify is None:
        return [
            f"{path}.placement: stricter placement cannot be checked against running instances; restore it"
        ]
    return [
        f"{path}.placement: running instances cannot follow the new placement ({problem}); restore it"
        for problem in verify(new)
    ]


def is_looser(old: PlacementSpec, new: PlacementSpec) -> bool:
    """True if ``new`` allows everything ``old`` allowed (fewer rules, never more)."""
    return (old.unique_agent or not new.unique_agent) and set(new.constraints) <= set(old.constraints)


def changed_pods(old: ServiceSpec, new: ServiceSpec) -> list[str]:
    """Pods present in both whose spec changed (their instances need a rolling relaunch)."""
    return [
        pod.name
        for pod in new.pods
        if (before := old.pod(pod.name)) is not None and _task_differs(before, pod)
    ]


def _task_differs(old: PodSpec, new: PodSpec) -> bool:
    keys = ("cpus", "mem", "command", "env", "user", "readiness_check", "health_check")
    return any(getattr(old, k) != getattr(new, k) for k in keys)
