"""wp-config.php and the per-instance docroot plan: one WordPress site, many identical instances.

Why: Debian's /usr/share/wordpress/wp-config.php reads /etc/wordpress/config-<host>.php, which cannot
serve several instances of one site from one package without touching /etc. Each instance therefore
gets a docroot of symlinks to the package (everything except wp-config.php and wp-content), its own
wp-config.php, and ABSPATH forced to that docroot (php-fpm's auto_prepend_file, see `web`).

Secrets: the database password is NOT embedded; wp-config.php reads it at runtime from a 0600 file
owned by the task user, so rotating it means rewriting one file and the rendered config holds no
password. The salts ARE embedded (WordPress needs them as constants); they are generated once by the
scheduler, stored in ZooKeeper and identical on every instance (otherwise logins would break when the
proxy moves a user to another instance), and wp-config.php is written 0600.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

SALT_KEYS = (
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)
SALT_LENGTH = 64
# Printable, without quote and backslash characters so a salt is always a safe PHP string literal.
_PRINTABLE = string.ascii_letters + string.digits + string.punctuation
SALT_ALPHABET = "".join(c for c in _PRINTABLE if c not in "'\\\"")
# Entries of the package directory that an instance must NOT share by symlink.
OWN_ENTRIES = frozenset({"wp-config.php", "wp-content", ".htaccess"})
# Shared read-only parts of wp-content; `uploads` is the instance's own directory or the media volume.
SHARED_CONTENT = ("themes", "plugins")


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password_file: str


@dataclass(frozen=True)
class SiteConfig:
    database: Database
    salts: Mapping[str, str]
    public_url: str
    local: bool = False
    table_prefix: str = "wp_"


@dataclass(frozen=True)
class Link:
    """One symlink of the docroot plan: `path` (relative to the docroot) -> absolute `target`."""

    path: str
    target: str


def generate_salts(choose: Callable[[str], str] = secrets.choice) -> dict[str, str]:
    """Fresh salts for a new site: called once by the scheduler, the result is kept in ZooKeeper."""
    return {key: "".join(choose(SALT_ALPHABET) for _ in range(SALT_LENGTH)) for key in SALT_KEYS}


def php_string(value: str) -> str:
    """A single-quoted PHP literal of `value`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _define(name: str, value: str | bool) -> str:
    literal = ("true" if value else "false") if isinstance(value, bool) else php_string(value)
    return f"define({php_string(name)}, {literal});"


def render_wp_config(config: SiteConfig) -> str:
    """The instance's wp-config.php. Raises ValueError if a salt is missing."""
    missing = [key for key in SALT_KEYS if not config.salts.get(key)]
    if missing:
        raise ValueError(f"error rendering wp-config.php: salts missing: {', '.join(missing)}")
    db = config.database
    url = config.public_url.rstrip("/")
    lines = [
        "<?php",
        "// Rendered by mesopress: do not edit, the scheduler re-renders it at every launch.",
        f"$mesopress_password = @file_get_contents({php_string(db.password_file)});",
        "if ($mesopress_password === false) {",
        "    http_response_code(503);",
        f"    exit('error reading the database password file {db.password_file}');",
        "}",
        _define("DB_NAME", db.name),
        _define("DB_USER", db.user),
        "define('DB_PASSWORD', rtrim($mesopress_password, \"\\r\\n\"));",
        _define("DB_HOST", f"{db.host}:{db.port}"),
        _define("DB_CHARSET", "utf8mb4"),
        _define("DB_COLLATE", ""),
        *(_define(key, config.salts[key]) for key in SALT_KEYS),
        f"$table_prefix = {php_string(config.table_prefix)};",
        _define("WP_HOME", url),
        _define("WP_SITEURL", url),
        _define("DISABLE_WP_CRON", True),
        _define("FS_METHOD", "direct"),
        _define("AUTOMATIC_UPDATER_DISABLED", True),
        _define("WP_DEBUG", False),
    ]
    if config.local:
        lines.append(_define("WP_ENVIRONMENT_TYPE", "local"))
    lines += ["if (!defined('ABSPATH')) {", "    define('ABSPATH', __DIR__ . '/');", "}"]
    lines.append("require_once ABSPATH . 'wp-settings.php';")
    return "\n".join(lines) + "\n"


def render_prepend(docroot: str) -> str:
    """php-fpm's auto_prepend_file: forces ABSPATH to the instance's docroot (PHP resolves symlinks)."""
    root = docroot.rstrip("/") + "/"
    return f"<?php\nif (!defined('ABSPATH')) {{\n    define('ABSPATH', {php_string(root)});\n}}\n"


def docroot_plan(package_entries: list[str], package_dir: str, uploads_target: str | None) -> list[Link]:
    """Symlinks that make a docroot out of the package's directory listing.

    `uploads_target`: the media volume for the media pod (uploads live there), None for a plain
    instance (its wp-content/uploads is a local directory that nothing should write to: the proxy sends
    uploads to the media pod).
    """
    base = package_dir.rstrip("/")
    links = [Link(name, f"{base}/{name}") for name in sorted(package_entries) if name not in OWN_ENTRIES]
    links += [Link(f"wp-content/{name}", f"{base}/wp-content/{name}") for name in SHARED_CONTENT]
    if uploads_target is not None:
        links.append(Link("wp-content/uploads", uploads_target))
    return links


def task_config(
    name: str,
    port: int,
    config: SiteConfig,
    site: Mapping[str, str],
    media: str | None = None,
    media_upstream: str | None = None,
) -> dict[str, Any]:
    """The JSON config of `mesopress.tasks.wordpress_instance` (schema in docs/wordpress.md).

    `site`: title, admin_user, admin_email, admin_password_file. `media`: the uploads volume's path
    for the media pod; None for a plain instance, which forwards uploads to `media_upstream`: the
    proxy's address inside the cluster, by default the public URL.
    """
    task: dict[str, Any] = {
        "name": name,
        "port": port,
        "public_url": config.public_url,
        "database": asdict(config.database),
        "salts": dict(config.salts),
        "local": config.local,
        "site": dict(site),
    }
    if media:
        return task | {"uploads_dir": media}
    return task | {"media_upstream": (media_upstream or config.public_url).rstrip("/")}
