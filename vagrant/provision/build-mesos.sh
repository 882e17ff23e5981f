#!/usr/bin/env bash
# Build Apache Mesos 1.11.0 from its source release once, on the master, into a tarball of /usr/local
# that every machine installs (the master serves /var/cache/mesos-dist over HTTP on :8000, see master.sh;
# a rebuild is skipped when the tarball is present).
# With MESOPRESS_MARATHON=1 the Java bindings (libmesos JNI, needed by Marathon) are built too.
set -euo pipefail
version=1.11.0
sha256=ce08cb648a21502a4a0c45d240a596d9ac860fcaf717f9a3dc986da9d406fe34
url="https://archive.apache.org/dist/mesos/${version}/mesos-${version}.tar.gz"
cache=/var/cache/mesos-dist
out="$cache/mesos-${version}-debian12.tar.gz"
if [ -s "$out" ]; then
  echo "mesos ${version}: using $out"
  exit 0
fi
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends build-essential autoconf libtool python3-dev \
  libcurl4-openssl-dev libsasl2-dev libapr1-dev libsvn-dev zlib1g-dev libssl-dev libevent-dev \
  iputils-ping wget
java_flag=--disable-java
if [ "${MESOPRESS_MARATHON:-1}" = 1 ]; then
  apt-get install -y -q --no-install-recommends openjdk-17-jdk-headless maven
  java_flag=--enable-java
fi
work=/var/tmp/mesos-build
mkdir -p "$work"
cd "$work"
[ -s "mesos-${version}.tar.gz" ] || wget -q "$url"
echo "${sha256}  mesos-${version}.tar.gz" | sha256sum -c -
rm -rf "mesos-${version}" && tar -xzf "mesos-${version}.tar.gz"
mkdir -p "mesos-${version}/build" && cd "mesos-${version}/build"
../configure --prefix=/usr/local --disable-python --disable-werror "$java_flag" \
  --enable-libevent --enable-ssl CXXFLAGS="-O2 -Wno-error"
make -j "$(nproc)" V=0
rm -rf "$work/root" && make install DESTDIR="$work/root" V=0
tar -C "$work/root" -czf "$out.tmp" usr/local && mv "$out.tmp" "$out"
echo "mesos ${version}: built $out"
