"""WordPress and HAProxy for mesopress: pure rendering of each pod's configuration (stdlib only).

`site` renders wp-config.php and the docroot plan, `web` the nginx and php-fpm configuration of one
instance, `proxy` the HAProxy configuration from the published endpoints, `install` the first-deploy
install script, `validate` refuses bad input with reasons. The programs that act on these renderings
live in `mesopress.tasks`.
"""
