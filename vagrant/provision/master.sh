#!/usr/bin/env bash
# The master: ZooKeeper (Debian package), the Mesos master, and Marathon when MESOPRESS_MARATHON=1.
set -euo pipefail
ip="$1"
bash /vagrant/provision/install-mesos.sh

# The Mesos build for the agents (install-mesos.sh fetches it): a plain read-only HTTP directory.
cat >/etc/systemd/system/mesos-dist.service <<UNIT
[Unit]
Description=Serve the Mesos build to the agents
[Service]
ExecStart=/usr/bin/python3 -m http.server 8000 --bind ${ip} --directory /var/cache/mesos-dist
DynamicUser=yes
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now mesos-dist

apt-get install -y -q --no-install-recommends zookeeperd
echo 1 >/etc/zookeeper/conf/myid
systemctl enable --now zookeeper

cat >/etc/systemd/system/mesos-master.service <<UNIT
[Unit]
Description=Mesos master
After=network-online.target zookeeper.service
[Service]
ExecStart=/usr/local/sbin/mesos-master --ip=${ip} --hostname=${ip} --zk=zk://${ip}:2181/mesos \\
  --quorum=1 --work_dir=/var/lib/mesos --log_dir=/var/log/mesos --cluster=mesopress-vagrant
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now mesos-master

if [ "${MESOPRESS_MARATHON:-1}" != 1 ]; then
  exit 0
fi
# Marathon 1.8.222 (the last build we know the address of); it needs libmesos' JNI part and a JRE.
marathon=marathon-1.8.222-86475ddac
if [ ! -d "/opt/$marathon" ]; then
  curl -fsSL -o "/tmp/$marathon.tgz" "https://downloads.mesosphere.io/marathon/builds/1.8.222-86475ddac/$marathon.tgz"
  tar -C /opt -xzf "/tmp/$marathon.tgz"
fi
cat >/etc/systemd/system/marathon.service <<UNIT
[Unit]
Description=Marathon
After=mesos-master.service
[Service]
Environment=MESOS_NATIVE_JAVA_LIBRARY=/usr/local/lib/libmesos.so
ExecStart=/opt/${marathon}/bin/marathon --master zk://${ip}:2181/mesos --zk zk://${ip}:2181/marathon \\
  --hostname ${ip} --http_port 8080
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now marathon
