#!/usr/bin/env bash
# scripts/venv.sh DIR EXTRAS: create (once) a virtual environment in DIR and install
# this project into it, editable, with the given extras ("" for none). Re-runs are
# cheap: it reinstalls only when pyproject.toml changed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="$1"
extras="${2:-}"
python=$("$here/scripts/find-python.sh")
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $python" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
spec="$here"
[ -n "$extras" ] && spec="$here[$extras]"
stamp="$venv/.consentry-installed"
want="$(sha256sum "$here/pyproject.toml" | cut -c1-16) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing consentry${extras:+ [$extras]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
  echo "$want" > "$stamp"
fi
