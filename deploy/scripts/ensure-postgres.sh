#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, postgres, pg_ctl) are
# installed, so that tests and `keyledger serve --dev` can start a throwaway
# cluster (projections/pgcluster looks in the same places). Installs Debian's
# postgresql package when they are missing.
set -euo pipefail
source "$(dirname "$0")/as-root.sh"

find_bindir() {
	local dir
	if command -v pg_config >/dev/null 2>&1; then
		dir="$(pg_config --bindir 2>/dev/null || true)"
		if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return 0
		fi
	fi
	if command -v initdb >/dev/null 2>&1; then
		dir="$(dirname "$(readlink -f "$(command -v initdb)")")"
		if [ -x "$dir/postgres" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return 0
		fi
	fi
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

if dir="$(find_bindir)"; then
	echo "postgresql: $("$dir/postgres" --version) in $dir"
	exit 0
fi
echo "postgresql: server binaries not found, installing the postgresql package"
apt_install postgresql
dir="$(find_bindir)" || { echo "postgresql: still no server binaries after installing" >&2; exit 1; }
echo "postgresql: $("$dir/postgres" --version) in $dir"
