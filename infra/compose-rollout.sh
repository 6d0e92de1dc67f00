#!/bin/sh
# Replaces the app replicas of docker compose with ones from a fresh build, without an outage:
#   sh infra/compose-rollout.sh
# `docker compose up --build` would recreate every replica at once and `docker compose restart app` restarts them all
# together. Here the new replicas start next to the old ones (nginx's `resolve` finds them in Docker's DNS within 5 s),
# then the old ones stop one at a time, each draining first (SHUTDOWN_DRAIN_MS), so nginx always has a replica.
set -eu
old=$(docker compose ps -q app)
count=$(printf '%s\n' "$old" | grep -c . || true)
[ "$count" -gt 0 ] || { echo "compose-rollout: no app replica is running; start the stack with: docker compose up --build -d" >&2; exit 1; }

docker compose build app migrate
# Once, before any new replica serves (new replicas would wait for it anyway; old ones keep serving meanwhile).
docker compose run --rm migrate
# The old containers stay (--no-recreate) and keep serving; --wait returns once the new ones are healthy.
docker compose up -d --no-deps --no-recreate --wait --scale "app=$((count * 2))" app
sleep 6 # nginx re-resolves `app` every 5 s
for id in $old; do
  docker stop -t 30 "$id" # SIGTERM: the replica drains, then exits (stop_grace_period in docker-compose.yml)
  docker rm "$id" >/dev/null
  sleep 6
done
echo "compose-rollout: $count replicas replaced"
