#!/usr/bin/env bash
# The walls between the parts (docs/architecture.md, "Walls"), checked on the
# sources and on the built plugin:
#   1. core/ includes no broker, MQTT-client or HTTP header (Beast/Asio included);
#   2. the plugin links no Paho, no libmosquitto (the broker exports what it
#      calls) and no HTTP library;
#   3. only core/registry speaks SQL: no SQLite or libpq header, no internal
#      registry header, no SQL text outside it in product code.
# usage: walls_test.sh SOURCE_DIR PLUGIN_SO
set -euo pipefail
src=$1
plugin=$2
cd "$src"
fail=0
say() { echo "walls: $*" >&2; fail=1; }

product=(core service mosquitto-plugin device mqtt_session tools)

hits=$(grep -rnE '#include *[<"](mosquitto[a-z_]*\.h|mqtt_protocol\.h|mqtt/[^">]*|MQTTAsync\.h|MQTTClient\.h|httplib\.h|boost/(beast|asio)[^">]*)[">]' core || true)
[[ -z "$hits" ]] || say "core/ includes a broker, MQTT-client or HTTP header:"$'\n'"$hits"

needed=$(readelf -d "$plugin" | grep NEEDED || true)
if grep -qiE 'paho|libmosquitto|httplib' <<<"$needed"; then say "the plugin links: $needed"; fi
if nm -C --defined-only "$plugin" 2>/dev/null | grep -qE 'httplib::|mqtt::'; then
  say "the plugin contains HTTP or Paho code"
fi

sql_includes=$(grep -rnE '#include *[<"](sqlite3\.h|libpq-fe\.h|pqxx/[^">]*|registry/database\.h|registry/postgres_database\.h|registry/wal_batching_vfs\.h)[">]' "${product[@]}" \
  --include='*.cpp' --include='*.h' | grep -v '^core/registry/' || true)
[[ -z "$sql_includes" ]] || say "SQL outside core/registry (includes):"$'\n'"$sql_includes"
sql_text=$(grep -rnE '"[^"]*\b(SELECT [^"]+ FROM|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|PRAGMA [a-z_]+)' "${product[@]}" \
  --include='*.cpp' --include='*.h' | grep -v '^core/registry/' || true)
[[ -z "$sql_text" ]] || say "SQL outside core/registry (text):"$'\n'"$sql_text"

if (( fail )); then exit 1; fi
echo "walls: core has no broker/MQTT/HTTP headers; the plugin links none of Paho, libmosquitto, HTTP; only core/registry speaks SQL"
