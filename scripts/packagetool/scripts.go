package main

// The maintainer scripts. dpkg calls them with a word ("configure", "remove", "upgrade", "purge"),
// rpm with the count of installed versions after the operation ("1" install, "2" upgrade, "0"
// erase), so each handles both.

const postinst = `#!/bin/sh
set -e
# The system user (sysusers.d/fedarms.conf), by systemd-sysusers where systemd is, else useradd.
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/fedarms.conf
elif ! getent passwd fedarms >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/fedarms --no-create-home \
		--shell /usr/sbin/nologin --comment "fedarms node" fedarms
fi
chown fedarms:fedarms /var/lib/fedarms
chmod 0700 /var/lib/fedarms
chown root:fedarms /etc/fedarms
chmod 0750 /etc/fedarms
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# An upgrade restarts a running node on the new release; a first install starts nothing:
	# the site is set up first (fedarms site init, then site join).
	if systemctl is-active --quiet fedarms.service; then
		systemctl restart fedarms.service || true
	fi
fi
exit 0
`

const prerm = `#!/bin/sh
set -e
case "$1" in
remove|0)
	if [ -d /run/systemd/system ]; then
		systemctl stop fedarms.service >/dev/null 2>&1 || true
		systemctl disable fedarms.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
`

// postrm keeps the user, /etc/fedarms and /var/lib/fedarms even on purge: the data dir holds the
// node's copy of the register, its audit log and undelivered hits, which only an operator may
// decide to destroy (docs/operations.md, "A lost or retired device").
const postrm = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
exit 0
`

const copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fedarms
Source: https://github.com/fedarms/fedarms

Files: *
Copyright: 2025-2026 the fedarms authors
License: LicenseRef-fedarms
 Distributed to the members of the federation under the terms agreed with the
 General Secretariat; no public licence is granted.
`

// lintianOverrides are the checker's warnings this package earns on purpose, each with its reason.
const lintianOverrides = `# The data dir holds the register, the audit log and the admin token; only the service user may
# enter it (the unit's StateDirectoryMode says the same).
fedarms: non-standard-dir-perm 0700 != 0755 [var/lib/fedarms/]
# The node key lives here, readable by root alone; systemd hands it to the service as a credential.
fedarms: non-standard-dir-perm 0700 != 0755 [etc/fedarms/credentials/]
# The config and roster are for root and the fedarms group (the service user), not for everyone.
fedarms: non-standard-dir-perm 0750 != 0755 [etc/fedarms/]
# A Go position-independent executable built without cgo: it needs the dynamic loader for its
# relocations and no shared library, so there is no libc to depend on.
fedarms: shared-library-lacks-prerequisites [usr/bin/fedarms]
`
