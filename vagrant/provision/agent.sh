#!/usr/bin/env bash
# An agent: the Mesos agent with the ports and disk mesopress' pods reserve (ROOT disk volumes).
set -euo pipefail
master_ip="$1"
ip="$2"
bash /vagrant/provision/install-mesos.sh

cat >/etc/systemd/system/mesos-agent.service <<UNIT
[Unit]
Description=Mesos agent
After=network-online.target
[Service]
ExecStart=/usr/local/sbin/mesos-agent --master=zk://${master_ip}:2181/mesos --ip=${ip} --hostname=${ip} \\
  --work_dir=/var/lib/mesos --log_dir=/var/log/mesos --containerizers=mesos \\
  --isolation=posix/cpu,posix/mem,filesystem/posix,disk/du --launcher=posix \\
  "--resources=cpus:2;mem:2560;disk:20000;ports:[31000-32000]" --switch_user=true
Restart=always
KillMode=process
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now mesos-agent
