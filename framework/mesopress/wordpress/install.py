"""The first-deploy install of the site, as a PHP CLI script (wp-cli is not available), idempotent.

Why PHP CLI rather than POSTing install.php: no HTTP round trip, no dependence on which instance the
proxy picks, and a clear exit status. The script takes a MySQL advisory lock (all statements go to the
one writer, so the lock is effective) and checks `is_blog_installed()` under it, so two instances
running it at once still install once, and a later deploy finds the site installed and changes nothing
(not the title, not the admin password, not the permalinks an editor may have changed).
The admin password is read from a 0600 file at run time, never passed on a command line.
The HTTP form is kept for operators who prefer to install through the proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesopress.wordpress.site import php_string

MARKER = "mesopress-install:"
INSTALLED = "installed"
ALREADY = "already-installed"
PERMALINKS = "/%postname%/"
THEME = "twentytwentythree"


@dataclass(frozen=True)
class Install:
    docroot: str
    public_host: str  # host[:port] of the public URL, for $_SERVER['HTTP_HOST']
    title: str
    admin_user: str
    admin_email: str
    admin_password_file: str
    permalinks: str = PERMALINKS
    theme: str = THEME


def _loader(docroot: str, host: str) -> list[str]:
    return [
        "<?php",
        f"define('ABSPATH', {php_string(docroot.rstrip('/') + '/')});",
        "define('WP_INSTALLING', true);",
        f"$_SERVER['HTTP_HOST'] = {php_string(host)};",
        "$_SERVER['REQUEST_URI'] = '/';",
        "$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';",
        "require ABSPATH . 'wp-load.php';",
        "require_once ABSPATH . 'wp-admin/includes/upgrade.php';",
    ]


def render_status_script(docroot: str, host: str) -> str:
    """Prints `mesopress-install: installed` or `... not-installed`."""
    body = [f"echo {php_string(MARKER)} . (is_blog_installed() ? ' installed' : ' not-installed') . \"\\n\";"]
    return "\n".join(_loader(docroot, host) + body) + "\n"


def render_install_script(spec: Install) -> str:
    """Installs the site unless it is installed; prints a marker line with the outcome."""
    body = [
        "global $wpdb, $wp_rewrite;",
        "if ((int) $wpdb->get_var(\"SELECT GET_LOCK('mesopress-install', 60)\") !== 1) {",
        '    fwrite(STDERR, "error installing the site: could not take the install lock\\n");',
        "    exit(3);",
        "}",
        "if (is_blog_installed()) {",
        f'    echo {php_string(f"{MARKER} {ALREADY}")} . "\\n";',
        "    exit(0);",
        "}",
        f"$password = @file_get_contents({php_string(spec.admin_password_file)});",
        "if ($password === false || rtrim($password, \"\\r\\n\") === '') {",
        '    fwrite(STDERR, "error installing the site: cannot read the admin password file\\n");',
        "    exit(2);",
        "}",
        f"$result = wp_install({php_string(spec.title)}, {php_string(spec.admin_user)}, "
        f"{php_string(spec.admin_email)}, true, '', wp_slash(rtrim($password, \"\\r\\n\")));",
        f"switch_theme({php_string(spec.theme)});",
        f"$wp_rewrite->set_permalink_structure({php_string(spec.permalinks)});",
        "$wp_rewrite->flush_rules(false);",
        f"echo {php_string(f'{MARKER} {INSTALLED}')} . ' user ' . $result['user_id'] . \"\\n\";",
    ]
    return "\n".join(_loader(spec.docroot, spec.public_host) + body) + "\n"


def parse_outcome(output: str) -> str:
    """INSTALLED, ALREADY, 'not-installed', or ValueError when the script did not get to say."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            words = line[len(MARKER) :].split()
            if words:
                return words[0]
    tail = output.strip()[-300:] or "no output"
    raise ValueError(f"error installing the site: the install script did not finish: {tail}")


def install_form(title: str, admin_user: str, admin_email: str, password: str) -> dict[str, str]:
    """Fields of `POST /wp-admin/install.php?step=2` (the HTTP way to install)."""
    return {
        "weblog_title": title,
        "user_name": admin_user,
        "admin_password": password,
        "admin_password2": password,
        "pw_weak": "1",
        "admin_email": admin_email,
        "blog_public": "1",
        "language": "",
    }


def page_says_installed(html: str) -> bool:
    """Does GET /wp-admin/install.php answer that the site is already installed?"""
    return "Already Installed" in html or "already installed" in html
