#!/bin/sh
# Start a farm node: install the host key and the client's public key given in /farm
# (written by tests/fixtures/docker_farm.py), then run sshd in the foreground, logging to
# /farm/logs/$FARM_HOST.log (the fixture counts "Accepted publickey" lines there).
set -eu
: "${FARM_HOST:?FARM_HOST must name this node (gateway, direct1, private1...)}"
keys="/farm/keys/$FARM_HOST"
if [ ! -s "$keys/ssh_host_ed25519_key" ] || [ ! -s /farm/authorized_keys ]; then
    echo "farm-node: $keys/ssh_host_ed25519_key or /farm/authorized_keys missing" >&2
    exit 1
fi
install -m 600 "$keys/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
for home in /root /home/farmuser; do
    install -d -m 700 "$home/.ssh"
    install -m 600 /farm/authorized_keys "$home/.ssh/authorized_keys"
done
chown -R farmuser:farmuser /home/farmuser/.ssh
mkdir -p /farm/logs
rm -f /run/sshd.pid
exec /usr/sbin/sshd -D -E "/farm/logs/$FARM_HOST.log"
