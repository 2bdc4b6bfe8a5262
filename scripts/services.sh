#!/usr/bin/env bash
# Check the local services minide's tests use (see ../shared/services.md) and start any that is down.
# Usage: scripts/services.sh [NAME ...]   (default: all). Exits non-zero naming a service that will
# not come up, so tests never run against a missing server.
set -uo pipefail

probe() {
  case $1 in
    postgres) pg_isready -q -h 127.0.0.1 ;;
    mariadb)  mariadb-admin ping >/dev/null 2>&1 ;;
    redis)    [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ] ;;
    rabbitmq) timeout 30 rabbitmqctl status >/dev/null 2>&1 ;;
    # mosquitto_sub exits 27 when it connected but timed out waiting for a message.
    mosquitto) timeout 5 mosquitto_sub -h 127.0.0.1 -t minide/probe -C 1 -W 1 >/dev/null 2>&1
               rc=$?; [ $rc -eq 27 ] || [ $rc -eq 0 ] ;;
    nats)     timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222' 2>/dev/null ;;
  esac
}

start() {
  case $1 in
    postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start ;;
    mariadb)  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ;;
    redis)    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
    rabbitmq) rabbitmq-server -detached ;;
    mosquitto) mosquitto -d -c /etc/mosquitto/mosquitto.conf ;;
    nats)     start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ;;
  esac
}

services=("$@")
[ ${#services[@]} -eq 0 ] && services=(postgres mariadb redis rabbitmq mosquitto nats)
failed=()
for s in "${services[@]}"; do
  if probe "$s"; then echo "services: $s is up"; continue; fi
  echo "services: $s is down, starting it"
  start "$s" || true
  ok=
  for _ in $(seq 1 30); do
    if probe "$s"; then ok=1; break; fi
    sleep 1
  done
  if [ -n "$ok" ]; then echo "services: $s started"; else failed+=("$s"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "services: could not start: ${failed[*]} (see ../shared/services.md)" >&2
  exit 1
fi
