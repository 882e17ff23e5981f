"""nginx + php-fpm for one WordPress instance, everything inside the task's sandbox.

Why rendered here rather than taken from /etc: several instances share one machine and one package, so
each gets its own nginx.conf, pool conf, unix socket, logs and temp paths under its sandbox. Our own
fastcgi_params passes `HTTP_HOST $http_host` (Debian's drops the port, which makes WordPress on a
non-80 port redirect forever). `/mesopress-ready` runs a tiny PHP script, not WordPress, that answers
200 only if it can connect to the database: the proxy's health check and the Mesos readiness check use
it, so an instance that lost the database stops receiving traffic.

Uploads: a plain instance forwards the upload endpoints and /wp-content/uploads/ to `media_upstream`
(the proxy, which routes them to the media pod), so a file uploaded or fetched through ANY instance
lands on or comes from the media volume. The media pod itself has no upstream and serves them locally.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mesopress.wordpress.site import Database, php_string

READY_PATH = "/mesopress-ready"
# Paths that write to or list the media library: the proxy and plain instances send them to the media pod.
UPLOAD_PATHS = (
    "/wp-admin/async-upload.php",
    "/wp-admin/media-new.php",
    "/wp-admin/upload.php",
    "/wp-json/wp/v2/media",
)
UPLOADS_PREFIX = "/wp-content/uploads/"
PHP_MATCH = "~ [^/]\\.php$"
FASTCGI_PARAMS = (
    ("QUERY_STRING", "$query_string"),
    ("REQUEST_METHOD", "$request_method"),
    ("CONTENT_TYPE", "$content_type"),
    ("CONTENT_LENGTH", "$content_length"),
    ("SCRIPT_NAME", "$fastcgi_script_name"),
    ("REQUEST_URI", "$request_uri"),
    ("DOCUMENT_URI", "$document_uri"),
    ("DOCUMENT_ROOT", "$document_root"),
    ("SERVER_PROTOCOL", "$server_protocol"),
    ("REQUEST_SCHEME", "$scheme"),
    ("HTTPS", "$https if_not_empty"),
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("SERVER_SOFTWARE", "nginx/$nginx_version"),
    ("REMOTE_ADDR", "$remote_addr"),
    ("REMOTE_PORT", "$remote_port"),
    ("SERVER_ADDR", "$server_addr"),
    ("SERVER_PORT", "$server_port"),
    ("SERVER_NAME", "$server_name"),
    ("REDIRECT_STATUS", "200"),
    ("HTTP_HOST", "$http_host"),
)


@dataclass(frozen=True)
class Layout:
    """Where an instance keeps its files; every path absolute, all under the sandbox."""

    sandbox: str

    def path(self, name: str) -> str:
        return f"{self.sandbox.rstrip('/')}/{name}"

    @property
    def docroot(self) -> str:
        return self.path("docroot")

    @property
    def socket(self) -> str:
        return socket_path(self.sandbox, "php-fpm.sock")


# Unix socket paths are short (108 bytes; HAProxy accepts 97); a Mesos sandbox path is often longer.
SOCKET_MAX = 97


def socket_path(sandbox: str, name: str) -> str:
    """`<sandbox>/run/<name>` when it fits a unix socket, else a stable per-sandbox name in /tmp."""
    candidate = f"{sandbox.rstrip('/')}/run/{name}"
    if len(candidate) < SOCKET_MAX:
        return candidate
    return f"/tmp/mesopress-{hashlib.sha1(sandbox.encode()).hexdigest()[:16]}-{name}"


@dataclass(frozen=True)
class WebConfig:
    layout: Layout
    port: int
    host: str = "127.0.0.1"
    user: str | None = None  # set when the task runs as root: nginx workers and the FPM pool run as it
    fpm_workers: int = 4
    max_body_mb: int = 64
    media_upstream: str | None = None  # e.g. "http://127.0.0.1:8080"; None on the media pod


def render_fastcgi_params() -> str:
    return "".join(f"fastcgi_param {name} {value};\n" for name, value in FASTCGI_PARAMS)


def _php_location(layout: Layout, match: str, script: str = "$document_root$fastcgi_script_name") -> str:
    return (
        f"        location {match} {{\n"
        f"            include {layout.path('conf/fastcgi_params')};\n"
        f"            fastcgi_param SCRIPT_FILENAME {script};\n"
        f"            fastcgi_pass unix:{layout.socket};\n"
        "        }\n"
    )


def _media_locations(upstream: str) -> str:
    forward = (
        f"            proxy_pass {upstream.rstrip('/')};\n"
        "            proxy_set_header Host $http_host;\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "        }\n"
    )
    blocks = [f"        location = {path} {{\n{forward}" for path in UPLOAD_PATHS[:-1]]
    blocks.append(f"        location ^~ {UPLOAD_PATHS[-1]} {{\n{forward}")
    blocks.append(f"        location ^~ {UPLOADS_PREFIX} {{\n{forward}")
    return "".join(blocks)


def render_nginx(config: WebConfig) -> str:
    """nginx.conf for `nginx -p <sandbox> -c <this> -g 'daemon off;'`."""
    layout = config.layout
    user = f"user {config.user};\n" if config.user else ""
    media = _media_locations(config.media_upstream) if config.media_upstream else ""
    php = _php_location(layout, PHP_MATCH)
    return (
        f"{user}worker_processes 1;\npid {layout.path('run/nginx.pid')};\n"
        f"error_log {layout.path('logs/nginx-error.log')} warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {layout.path('logs/nginx-access.log')};\n"
        f"    client_body_temp_path {layout.path('tmp/body')};\n"
        f"    proxy_temp_path {layout.path('tmp/proxy')};\n"
        f"    fastcgi_temp_path {layout.path('tmp/fastcgi')};\n"
        f"    uwsgi_temp_path {layout.path('tmp/uwsgi')};\n"
        f"    scgi_temp_path {layout.path('tmp/scgi')};\n"
        f"    client_max_body_size {config.max_body_mb}m;\n"
        "    server_tokens off;\n"
        "    server {\n"
        f"        listen {config.host}:{config.port};\n"
        f"        root {layout.docroot};\n"
        "        index index.php;\n"
        f"{_php_location(layout, f'= {READY_PATH}', layout.path('conf/ready.php'))}"
        f"{media}"
        "        location / { try_files $uri $uri/ /index.php?$args; }\n"
        "        location ~ /\\. { deny all; }\n"
        f"{php}"
        "    }\n"
        "}\n"
    )


def render_fpm(config: WebConfig) -> str:
    """php-fpm.conf with one pool, for `php-fpm8.2 -F -y <this>` (plus -R when the user is root)."""
    layout = config.layout
    user = f"user = {config.user}\n" if config.user else ""
    return (
        "[global]\n"
        f"pid = {layout.path('run/php-fpm.pid')}\n"
        f"error_log = {layout.path('logs/php-fpm.log')}\n"
        "daemonize = no\n"
        "[www]\n"
        f"{user}"
        f"listen = {layout.socket}\n"
        "listen.mode = 0660\n"
        "pm = static\n"
        f"pm.max_children = {config.fpm_workers}\n"
        "catch_workers_output = yes\n"
        "clear_env = yes\n"
        f"php_admin_value[auto_prepend_file] = {layout.path('conf/prepend.php')}\n"
        f"php_admin_value[upload_max_filesize] = {config.max_body_mb}M\n"
        f"php_admin_value[post_max_size] = {config.max_body_mb}M\n"
        f"php_admin_value[error_log] = {layout.path('logs/php-error.log')}\n"
        "php_admin_flag[log_errors] = on\n"
    )


def render_ready(database: Database, timeout_s: int = 2) -> str:
    """The readiness script: 200 if a connection to the database and `SELECT 1` succeed, else 503."""
    return f"""<?php
header('Content-Type: text/plain');
header('Cache-Control: no-store');
mysqli_report(MYSQLI_REPORT_OFF);
$password = @file_get_contents({php_string(database.password_file)});
$db = mysqli_init();
mysqli_options($db, MYSQLI_OPT_CONNECT_TIMEOUT, {int(timeout_s)});
$ok = $password !== false && @mysqli_real_connect($db, {php_string(database.host)},
    {php_string(database.user)}, rtrim($password, "\\r\\n"), {php_string(database.name)},
    {int(database.port)}) && @mysqli_query($db, 'SELECT 1') !== false;
if (!$ok) {{
    http_response_code(503);
    $why = $password === false ? 'cannot read the password file' : mysqli_connect_error();
    echo "not ready: $why\\n";
    exit;
}}
echo "ready\\n";
"""
