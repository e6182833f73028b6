#!/usr/bin/env bash
# Builds the HashiCorp Vault binary that `keyledger bench --vault` measured Keyledger
# against (issue 11's peer was OpenBao, a fork of Vault with the same HTTP API, which
# the Go module proxy here does not serve): Vault v1.21.4 from the module proxy, into
# $1 (default ./bin/vault). Only the Go module proxy is needed; on a 2-core machine with
# an empty module cache it downloads some hundreds of modules and compiles for about
# 20 minutes, into a binary of about 500 MB.
#
# The module's go.mod replaces its api and sdk modules with directories of its own
# repository, which a module download leaves out, so they are fetched as the tagged
# modules its go.mod requires. The sdk tag (v0.21.0) is not quite the tree Vault
# v1.21.4 was cut from, and three lines of Vault are adapted to it: the identity
# store's activation-flag callback gained an argument, and the transit engine's key
# restore expects the restored key's name back. A KV v2 benchmark calls neither;
# nothing on a KV v2 read or write path is touched.
set -euo pipefail

out=$(realpath -m "${1:-bin/vault}")
version=v1.21.4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod

dir_of() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

src="$work/vault"
cp -r "$(dir_of "github.com/hashicorp/vault@$version")" "$src"
chmod -R u+w "$src"
for m in api@v1.22.0 api/auth/approle@v0.1.0 api/auth/kubernetes@v0.10.0 api/auth/userpass@v0.1.0 sdk@v0.21.0; do
	path=${m%@*}
	mkdir -p "$src/$path"
	cp -r "$(dir_of "github.com/hashicorp/vault/$m")/." "$src/$path/"
	chmod -R u+w "$src/$path"
done
sed -i 's|		ActivationFunc: iStore.activateDeduplication,|		ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },|' \
	"$src/vault/identity_store.go"
sed -i 's|b.idStoreBackend.ActivationFunc(ctx, nil); err|b.idStoreBackend.ActivationFunc(ctx, nil, ""); err|' \
	"$src/vault/logical_system_activation_flags.go"
sed -i 's|	restoredKeyName, err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)|	restoredKeyName := keyName\n	err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)|' \
	"$src/builtin/logical/transit/path_restore.go"
mkdir -p "$(dirname "$out")"
(cd "$src" && go build -o "$out" .)
"$out" version
