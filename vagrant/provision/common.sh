#!/usr/bin/env bash
# Every machine: names of all machines, and the packages mesopress' schedulers and tasks run with
# (the same Debian 12 packages scripts/setup.sh installs: python3, MariaDB + Galera, WordPress, ...).
set -euo pipefail
master_ip="$1"
IFS=, read -r -a agent_ips <<<"$2"

{
  echo "$master_ip master"
  for i in "${!agent_ips[@]}"; do echo "${agent_ips[$i]} agent$((i + 1))"; done
} >/etc/hosts.mesopress
grep -v -e ' master$' -e ' agent[0-9]*$' /etc/hosts >/etc/hosts.new || true
cat /etc/hosts.mesopress >>/etc/hosts.new
mv /etc/hosts.new /etc/hosts
# Debian maps the hostname to 127.0.1.1; Mesos must advertise the private address instead.
sed -i '/^127\.0\.1\.1/d' /etc/hosts

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ca-certificates curl python3 python3-venv python3-pip zookeeper mariadb-server mariadb-backup galera-4 \
  rsync socat iproute2 haproxy nginx php-fpm php-mysql wordpress wordpress-theme-twentytwentythree \
  libcurl4 libsasl2-2 libsasl2-modules libapr1 libsvn1 zlib1g libevent-2.1-7 libevent-openssl-2.1-7
# The tasks start their own servers: the packaged services must not hold the ports or the datadir.
for unit in mariadb nginx haproxy "php*-fpm" zookeeper; do
  systemctl disable --now "$unit" 2>/dev/null || true
done
