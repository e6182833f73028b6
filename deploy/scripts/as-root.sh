# Sourced by the ensure-*.sh scripts: as_root runs a command as root, directly
# when we are root (CI), through passwordless sudo otherwise, and fails with a
# message saying what to install by hand when neither works.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		echo "need root to run: $*" >&2
		echo "run this script as root, or install the packages yourself" >&2
		return 1
	fi
}

# apt_install installs Debian packages non-interactively, refreshing the
# package lists first (a fresh CI image has none).
apt_install() {
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "apt-get not found: install $* with your system's package manager" >&2
		return 1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" </dev/null
}
