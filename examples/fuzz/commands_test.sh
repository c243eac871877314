#!/bin/sh
# A device under fuzz, in shell: mosquitto_sub is the device, mosquitto_pub the cloud sending three
# commands. Exits 1 unless the device got each command exactly once. Run it with:
#   npx fake-aws-iot fuzz --runs 10 --seed 3 --chaos shell-chaos.json -- sh commands_test.sh
# shell-chaos.json keeps re-sends right behind their original (maxDelayMs 0): a copy that came later could
# fall after mosquitto_sub has its three messages, and whether a run fails would depend on timing.
set -eu
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# stdbuf: mosquitto_sub's output goes to a file, which stdio would otherwise buffer until it exits.
stdbuf -oL mosquitto_sub -h "$FAKE_IOT_HOST" -p "$FAKE_IOT_PORT" -i dev-1 -q 1 -t cmd/dev-1 -C 3 -W 10 -d > "$out" &
until grep -q SUBACK "$out"; do sleep 0.02; done
# One client id per publisher: AWS allows one CONNECT per second per client id.
for n in 1 2 3; do
  mosquitto_pub -h "$FAKE_IOT_HOST" -p "$FAKE_IOT_PORT" -i "cloud-$n" -q 1 -t cmd/dev-1 -m "command $n"
done
wait
got=$(grep '^command ' "$out" | sort | tr '\n' ' ')
[ "$got" = "command 1 command 2 command 3 " ] || { echo "expected commands 1 2 3 once each, got: $got"; exit 1; }
