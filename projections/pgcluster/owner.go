package pgcluster

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// defaultOSUser is the account that runs PostgreSQL when the caller is root.
// Debian's postgresql package creates it.
const defaultOSUser = "postgres"

// owner is the OS account that runs initdb and postgres and owns the cluster directory.
type owner struct {
	name       string
	uid, gid   uint32
	groups     []uint32
	switchUser bool // the caller is root and must drop to this account for the children
}

// resolveOwner picks the account for the cluster: the caller itself, or, when
// the caller is root (which PostgreSQL refuses), the named unprivileged account.
func resolveOwner(name string) (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	if name == "" {
		name = defaultOSUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return owner{}, fmt.Errorf("PostgreSQL cannot run as root and OS user %q is not usable (create it, e.g. by installing postgresql, or set Options.OSUser): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return owner{}, fmt.Errorf("parse uid of %q: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return owner{}, fmt.Errorf("parse gid of %q: %w", name, err)
	}
	if uid == 0 {
		return owner{}, fmt.Errorf("OS user %q is root; PostgreSQL needs an unprivileged account", name)
	}
	o := owner{name: name, uid: uint32(uid), gid: uint32(gid), switchUser: true}
	groupIDs, err := u.GroupIds()
	if err != nil {
		return owner{}, fmt.Errorf("groups of %q: %w", name, err)
	}
	for _, g := range groupIDs {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			o.groups = append(o.groups, uint32(n))
		}
	}
	return o, nil
}

// credential is what a child process runs as: nil keeps the caller's identity.
func (o owner) credential() *syscall.Credential {
	if !o.switchUser {
		return nil
	}
	return &syscall.Credential{Uid: o.uid, Gid: o.gid, Groups: o.groups}
}

// toolSysProcAttr is for short-lived tools (initdb, pg_ctl): the owner's
// identity, no process-group or parent-death games, since CommandContext ends them.
func (o owner) toolSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: o.credential()}
}

// prepareDir creates the cluster directory (mode 0700, as PostgreSQL demands)
// and, when the caller is root, hands it to the owner and checks that the
// owner can reach it at all.
func prepareDir(dir string, o owner) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create parent of cluster dir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create cluster dir: %w", err)
	}
	if !o.switchUser {
		return nil
	}
	if err := chownTree(dir, o); err != nil {
		return err
	}
	return checkReachable(dir, o)
}

// chownTree gives dir and everything in it to the owner, unless dir already
// belongs to it (the common case of reusing a cluster, which then costs one stat).
func chownTree(dir string, o owner) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat cluster dir: %w", err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == o.uid {
		return nil
	}
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(o.uid), int(o.gid))
	})
	if err != nil {
		return fmt.Errorf("give cluster dir to OS user %s: %w", o.name, err)
	}
	return nil
}

// checkReachable fails with a clear message when some parent of dir denies the
// owner search permission (root's home is 0700, for example): initdb would
// otherwise fail with a confusing "permission denied".
func checkReachable(dir string, o owner) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !o.canSearch(st) {
			return fmt.Errorf("OS user %s, which runs PostgreSQL because the caller is root, cannot enter %s (mode %v): "+
				"put the cluster directory elsewhere or allow the search (chmod o+x %s)", o.name, p, info.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// canSearch applies the Unix permission rule for entering a directory.
func (o owner) canSearch(st *syscall.Stat_t) bool {
	switch {
	case st.Uid == o.uid:
		return st.Mode&0o100 != 0
	case o.inGroup(st.Gid):
		return st.Mode&0o010 != 0
	default:
		return st.Mode&0o001 != 0
	}
}

func (o owner) inGroup(gid uint32) bool {
	if gid == o.gid {
		return true
	}
	for _, g := range o.groups {
		if g == gid {
			return true
		}
	}
	return false
}
