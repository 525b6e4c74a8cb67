#!/usr/bin/env bash
# Prints the path of a Python >= 3.12: first from PATH, then from pyenv.
# (pyenv shims on PATH fail for versions that are installed but not selected,
# so every candidate is asked for its version rather than trusted by name.)
set -u
is_recent() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

for name in python3.14 python3.13 python3.12 python3 python; do
  if command -v "$name" >/dev/null 2>&1 && is_recent "$name"; then
    "$name" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done

pyenv_bin=$(command -v pyenv 2>/dev/null || true)
[ -z "$pyenv_bin" ] && [ -x "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv" ] && pyenv_bin="${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv"
if [ -n "$pyenv_bin" ]; then
  root=$("$pyenv_bin" root)
  for version in $("$pyenv_bin" versions --bare 2>/dev/null | grep -E '^3\.[0-9]+(\.[0-9]+)?$' | sort -t. -k1,1n -k2,2n -k3,3n -r); do
    candidate="$root/versions/$version/bin/python3"
    if [ -x "$candidate" ] && is_recent "$candidate"; then
      echo "$candidate"
      exit 0
    fi
  done
fi
echo "consentry needs Python 3.12 or newer: none on PATH or in pyenv. Install one (e.g. 'pyenv install 3.12') and retry." >&2
exit 1
