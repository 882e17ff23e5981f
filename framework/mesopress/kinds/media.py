"""The media pod kind: a WordPress instance whose wp-content/uploads is its persistent volume.

Why a separate kind: uploaded files are the one piece of site state outside the database. One media
pod owns them on a reserved volume (relaunched in place, like a Galera node); the proxy routes every
upload endpoint and /wp-content/uploads/ to it, and plain instances forward the same paths to the
proxy (docs/wordpress.md, "Media"). Apart from the volume it is a WordPress instance like the others,
so it reuses `kinds.wordpress` whole. It deploys before the plain instances, so by default it is the
one that installs the site at the first deploy.
"""

from __future__ import annotations

from mesopress.kinds.wordpress import WordPressKind
from mesopress.model.specs import PodSpec, ServiceSpec

UPLOADS_VOLUME = "uploads"


class MediaKind(WordPressKind):
    """WordPress on the uploads volume (the pod's first volume, `uploads` by convention); the site's
    facts come from `site_pod` (the wordpress pod), so they are written once in the service file."""

    def __init__(
        self, proxy_pod: str = "proxy", installs: bool = True, site_pod: PodSpec | None = None
    ) -> None:
        super().__init__(proxy_pod, installs, site_pod)

    def uploads(self, pod: PodSpec) -> str | None:
        """Relative to the sandbox, where Mesos mounts the volume; the task resolves it."""
        if not pod.volumes:
            raise ValueError(f"error rendering {pod.name}: the media pod needs a volume for uploads")
        return pod.volumes[0].container_path


def check_service(service: ServiceSpec, media: str = "media") -> list[str]:
    """The media pod, if present, runs once and owns exactly one volume."""
    pod = service.pod(media)
    if pod is None:
        return []
    errors = []
    if pod.count != 1:
        errors.append(f"pods[{media}].count: {pod.count} media pods would split the uploads; use 1")
    if len(pod.volumes) != 1:
        errors.append(f"pods[{media}].volumes: needs exactly one volume, e.g. [{{container_path: uploads}}]")
    return errors
