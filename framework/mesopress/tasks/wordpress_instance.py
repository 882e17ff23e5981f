"""The program inside a WordPress task: build the docroot, render the configs, run nginx + php-fpm.

Why a supervisor of our own instead of letting nginx/php-fpm daemonize: Mesos must see the task fail
when either process dies, so neither is restarted silently: if one exits, the other is stopped and the
program exits non-zero (TASK_FAILED; the scheduler decides what to do). SIGTERM (Mesos kill) stops
both gracefully (SIGQUIT: in-flight requests finish) and exits 0.

    python -m mesopress.tasks.wordpress_instance run --config FILE
    python -m mesopress.tasks.wordpress_instance install --config FILE

Config JSON (relative paths are relative to the config file's directory; secrets only by 0600 file):
    {"name": "wordpress-0", "sandbox": "/sandbox (default $MESOS_SANDBOX or cwd)",
     "host": "127.0.0.1", "port": 8081, "public_url": "http://blog.example.com",
     "database": {"host": "127.0.0.1", "port": 3306, "name": "wordpress", "user": "wordpress",
                  "password_file": "/secrets/db-password"},
     "salts": {"AUTH_KEY": "...", ...}, "local": false, "fpm_workers": 4, "max_body_mb": 64,
     "uploads_dir": "/volume/uploads (media pod only)", "media_upstream": "http://proxy:80 (others)",
     "package_dir": "/usr/share/wordpress", "php_fpm": "php-fpm8.2", "php": "php", "nginx": "nginx",
     "site": {"title": "...", "admin_user": "...", "admin_email": "...",
              "admin_password_file": "/secrets/admin-password"}}
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from typing import Any, NoReturn
from urllib.parse import urlsplit

from mesopress.wordpress import install, site, web

STOP_TIMEOUT_S = 15.0


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def check_secret(path: str) -> None:
    """Refuse a secret file that others can read, or that is missing."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError as exc:
        fail(f"error reading secret file {path}: {exc.strerror}")
    if mode & 0o077:
        fail(f"error reading secret file {path}: mode {mode:o} lets others read it; chmod 600 {path}")


def load_config(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            config: dict[str, Any] = json.load(handle)
    except (OSError, ValueError) as exc:
        fail(f"error reading config {path}: {exc}")
    missing = [k for k in ("port", "public_url", "database", "salts") if k not in config]
    if missing:
        fail(f"error reading config {path}: missing {', '.join(missing)}")
    config.setdefault("sandbox", os.environ.get("MESOS_SANDBOX", os.getcwd()))
    config.setdefault("name", "wordpress")
    config = absolute(config, os.path.dirname(os.path.abspath(path)))
    if config.get("restrict_secrets") is True:
        restrict(
            path, config["database"].get("password_file"), config.get("site", {}).get("admin_password_file")
        )
    return config


def restrict(*paths: str | None) -> None:
    """Mode 0600 for files the Mesos fetcher wrote with the default umask; asked for by the
    scheduler's config (`"restrict_secrets": true`), so a hand-written config is still checked."""
    for path in paths:
        if path and os.path.exists(path):
            os.chmod(path, 0o600)


def absolute(config: dict[str, Any], base: str) -> dict[str, Any]:
    """Relative file paths are relative to the config's directory (the scheduler renders them so,
    not knowing the sandbox's path); PHP and nginx need absolute ones."""

    def resolve(value: str) -> str:
        return value if os.path.isabs(value) else os.path.join(base, value)

    for section, key in (("database", "password_file"), ("site", "admin_password_file")):
        if isinstance(config.get(section), dict) and config[section].get(key):
            config[section][key] = resolve(config[section][key])
    for key in ("uploads_dir", "sandbox"):
        if config.get(key):
            config[key] = resolve(config[key])
    return config


def database(config: dict[str, Any]) -> site.Database:
    db = config["database"]
    return site.Database(db["host"], int(db["port"]), db["name"], db["user"], db["password_file"])


def web_config(config: dict[str, Any]) -> web.WebConfig:
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
    return web.WebConfig(
        layout=web.Layout(os.path.abspath(config["sandbox"])),
        port=int(config["port"]),
        host=config.get("host", "127.0.0.1"),
        user=user,
        fpm_workers=int(config.get("fpm_workers", 4)),
        max_body_mb=int(config.get("max_body_mb", 64)),
        media_upstream=config.get("media_upstream"),
    )


def write(path: str, text: str, mode: int = 0o644) -> None:
    """Atomic write: a concurrently running `install` and `run` never see half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def link(path: str, target: str) -> None:
    if os.path.islink(path) and os.readlink(path) == target:
        return
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    tmp = f"{path}.tmp{os.getpid()}"
    os.symlink(target, tmp)
    os.replace(tmp, path)


def build_docroot(config: dict[str, Any], layout: web.Layout) -> None:
    package = config.get("package_dir", "/usr/share/wordpress")
    uploads = config.get("uploads_dir")
    if uploads:
        os.makedirs(uploads, exist_ok=True)
    os.makedirs(f"{layout.docroot}/wp-content", exist_ok=True)
    for entry in site.docroot_plan(os.listdir(package), package, uploads):
        link(f"{layout.docroot}/{entry.path}", entry.target)
    if not uploads:
        os.makedirs(f"{layout.docroot}/wp-content/uploads", exist_ok=True)


def prepare(config: dict[str, Any]) -> web.WebConfig:
    """Directories, docroot and every rendered file; idempotent."""
    check_secret(config["database"]["password_file"])
    wconf = web_config(config)
    layout = wconf.layout
    for name in ("run", "logs", "conf", "tmp", "docroot"):
        os.makedirs(layout.path(name), exist_ok=True)
    build_docroot(config, layout)
    db = database(config)
    site_config = site.SiteConfig(db, config["salts"], config["public_url"], bool(config.get("local")))
    try:
        write(f"{layout.docroot}/wp-config.php", site.render_wp_config(site_config), 0o600)
    except ValueError as exc:
        fail(str(exc))
    write(layout.path("conf/prepend.php"), site.render_prepend(layout.docroot))
    write(layout.path("conf/ready.php"), web.render_ready(db))
    write(layout.path("conf/fastcgi_params"), web.render_fastcgi_params())
    write(layout.path("conf/nginx.conf"), web.render_nginx(wconf))
    write(layout.path("conf/php-fpm.conf"), web.render_fpm(wconf))
    return wconf


def start_children(config: dict[str, Any], layout: web.Layout) -> list[tuple[str, subprocess.Popen[bytes]]]:
    fpm_cmd = [config.get("php_fpm", "php-fpm8.2"), "-F", "-y", layout.path("conf/php-fpm.conf")]
    if os.geteuid() == 0:
        fpm_cmd.append("-R")
    if os.path.exists(layout.socket):
        os.unlink(layout.socket)  # a stale socket from an earlier run would start nginx too early
    fpm = subprocess.Popen(fpm_cmd, process_group=0)
    deadline = time.monotonic() + 15
    while not os.path.exists(layout.socket) and fpm.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    nginx_bin = config.get("nginx", "nginx")
    nginx_cmd = [nginx_bin, "-p", layout.sandbox, "-e", layout.path("logs/nginx-error.log")]
    nginx_cmd += ["-c", layout.path("conf/nginx.conf"), "-g", "daemon off;"]
    nginx = subprocess.Popen(nginx_cmd, process_group=0)
    return [("nginx", nginx), ("php-fpm", fpm)]


def stop_children(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """nginx first (stop taking requests), then php-fpm; SIGQUIT is graceful for both.

    Each child leads its own process group, killed afterwards: a master that died (kill -9) leaves
    its workers behind, and they must not outlive the task. The groups stay in the task's session, so
    an agent that kills the task's session (localmesos; Mesos kills the cgroup) kills them too.
    """
    for _, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def supervise(children: list[tuple[str, subprocess.Popen[bytes]]], stop: threading.Event) -> int:
    while not stop.wait(0.2):
        for name, proc in children:
            code = proc.poll()
            if code is not None:
                print(
                    f"error running the instance: {name} exited with {code}; stopping the rest",
                    file=sys.stderr,
                )
                stop_children(children)
                return 1
    stop_children(children)
    return 0


def run(config: dict[str, Any]) -> int:
    wconf = prepare(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    children = start_children(config, wconf.layout)
    print(f"{config['name']}: started php-fpm and nginx for {wconf.host}:{wconf.port}", flush=True)
    return supervise(children, stop)


def install_site(config: dict[str, Any]) -> int:
    if "site" not in config:
        fail("error installing the site: the config has no 'site' section")
    wconf = prepare(config)
    spec = config["site"]
    check_secret(spec["admin_password_file"])
    host = urlsplit(config["public_url"]).netloc
    request = install.Install(
        wconf.layout.docroot,
        host,
        spec["title"],
        spec["admin_user"],
        spec["admin_email"],
        spec["admin_password_file"],
    )
    script = wconf.layout.path("conf/install.php")
    write(script, install.render_install_script(request), 0o600)
    try:
        done = subprocess.run([config.get("php", "php"), script], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        fail("error installing the site: the install script ran for more than 300 s")
    try:
        outcome = install.parse_outcome(done.stdout)
    except ValueError as exc:
        fail(f"{exc} (exit {done.returncode}, stderr: {done.stderr.strip()[-300:]})")
    print(f"{config['name']}: {outcome}", flush=True)
    return 0 if done.returncode == 0 and outcome in (install.INSTALLED, install.ALREADY) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mesopress.tasks.wordpress_instance")
    parser.add_argument("command", choices=("run", "install"))
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    return run(config) if args.command == "run" else install_site(config)


if __name__ == "__main__":
    sys.exit(main())
