"""mesopress: a Mesos framework that runs WordPress on a MariaDB Galera cluster with persistent volumes."""
