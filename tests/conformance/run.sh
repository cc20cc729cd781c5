#!/usr/bin/env bash
# Runs the differential check: GEN [COUNT] writes records with the local
# validator's verdicts, check_schema.py compares them with the official
# schema. Exit 77 (skipped) when the schema or Debian's python3-jsonschema
# is missing.
set -euo pipefail
gen=$1
count=${2:-3000}
here=$(cd "$(dirname "$0")" && pwd)
schema=${A0_SHARED:-$here/../../../shared}/specs/auth0-bulk-import-user.schema.json
if [ ! -r "$schema" ]; then
    echo "skipped: no schema at $schema"
    exit 77
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
    echo "skipped: python3-jsonschema is not installed"
    exit 77
fi
"$gen" "$count" | "$py" "$here/check_schema.py" "$schema"
