"""Programs that run inside Mesos tasks."""
