"""nginx and php-fpm of one instance: everything in the sandbox, readiness, uploads to the media pod."""

from __future__ import annotations

import pytest

from mesopress.wordpress import site, web

LAYOUT = web.Layout("/sb")
PLAIN = web.WebConfig(LAYOUT, 8081, media_upstream="http://127.0.0.1:8080")
MEDIA = web.WebConfig(LAYOUT, 8082, host="10.0.0.7", user="root", max_body_mb=128)


@pytest.mark.parametrize(
    "line",
    [
        "listen 127.0.0.1:8081;",
        "root /sb/docroot;",
        "pid /sb/run/nginx.pid;",
        "fastcgi_pass unix:/sb/run/php-fpm.sock;",
        "include /sb/conf/fastcgi_params;",
        "client_max_body_size 64m;",
        "location = /mesopress-ready {",
        "fastcgi_param SCRIPT_FILENAME /sb/conf/ready.php;",
        "try_files $uri $uri/ /index.php?$args;",
        "client_body_temp_path /sb/tmp/body;",
    ],
    ids=[
        "listen",
        "docroot",
        "pid",
        "socket",
        "own-params",
        "body-size",
        "ready",
        "ready-script",
        "pretty",
        "temp",
    ],
)
def test_nginx_has(line: str) -> None:
    assert line in web.render_nginx(PLAIN)


@pytest.mark.parametrize(
    ("config", "forwards"),
    [(PLAIN, True), (MEDIA, False)],
    ids=["plain-forwards-uploads", "media-serves-them"],
)
def test_upload_paths_go_to_the_media_upstream_except_on_the_media_pod(
    config: web.WebConfig, forwards: bool
) -> None:
    text = web.render_nginx(config)
    assert ("location ^~ /wp-content/uploads/ {" in text) is forwards
    assert ("location = /wp-admin/async-upload.php {" in text) is forwards
    assert ("location ^~ /wp-json/wp/v2/media {" in text) is forwards
    assert (text.count("proxy_pass http://127.0.0.1:8080;") == len(web.UPLOAD_PATHS) + 1) is forwards


def test_a_root_task_names_its_user_and_a_given_host() -> None:
    text = web.render_nginx(MEDIA)
    assert text.startswith("user root;\n") and "listen 10.0.0.7:8082;" in text
    assert "client_max_body_size 128m;" in text
    assert "user " not in web.render_nginx(PLAIN)


def test_fastcgi_params_pass_the_host_with_its_port() -> None:
    params = web.render_fastcgi_params()
    assert "fastcgi_param HTTP_HOST $http_host;\n" in params
    assert "fastcgi_param REQUEST_URI $request_uri;\n" in params


@pytest.mark.parametrize(
    "line",
    [
        "listen = /sb/run/php-fpm.sock",
        "php_admin_value[auto_prepend_file] = /sb/conf/prepend.php",
        "pm.max_children = 4",
        "php_admin_value[upload_max_filesize] = 64M",
        "daemonize = no",
    ],
    ids=["socket", "abspath-prepend", "workers", "upload-size", "foreground"],
)
def test_fpm_pool_has(line: str) -> None:
    assert line in web.render_fpm(PLAIN)


def test_fpm_pool_user_only_when_given() -> None:
    assert "user = root\n" in web.render_fpm(MEDIA)
    assert "user =" not in web.render_fpm(PLAIN)


def test_ready_script_connects_to_the_database_and_answers_503_otherwise() -> None:
    db = site.Database("127.0.0.1", 3307, "wordpress", "wp", "/secrets/pw")
    text = web.render_ready(db)
    assert "file_get_contents('/secrets/pw')" in text
    assert "mysqli_real_connect($db, '127.0.0.1'" in text and "3307)" in text
    assert "http_response_code(503);" in text and "SELECT 1" in text
