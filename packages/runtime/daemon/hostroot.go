package main

// Host mode (`runtools-daemon --serve-root DIR --socket PATH`): the control plane's file server for a tree
// that sandboxes can write (the workspaces), speaking this daemon's protocol on a socket in a host-only
// directory. Node cannot open files relative to a descriptor, and checking a path before opening it by name
// is a race a sandbox wins by swapping a directory for a symlink; so every host-side operation on such a tree
// is done here instead:
//   - a path is resolved from a descriptor of DIR with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//     RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) (one O_NOFOLLOW openat per component on kernels without it),
//     so a symlink anywhere in it fails the operation ("symlink") instead of leading out;
//   - the last component is acted on through its parent's descriptor with calls that do not follow it: a
//     symlink there is itself described, listed, removed, moved or copied (as a symlink), never followed;
//   - files are opened O_PATH first and reopened for reading only once they are known to be regular files
//     (a device node or FIFO a sandbox made is never opened); new files are created O_EXCL | O_NOFOLLOW;
//   - recursive operations (remove, copy, usage) walk by descriptors, never by path.
// The host authenticates this server like a sandbox's daemon: its hello carries the token the host passed in
// RUNTOOLS_TREE_TOKEN. It exits when its standard input closes (the control plane is gone).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	oPath               = 0x200000 // O_PATH, the same on every Linux architecture Go builds this for
	resolveNoXdev       = 0x01
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
	sysOpenat2          = 437 // the same number on amd64 and arm64
	atRemoveDir         = 0x200
	maxTreeDepth        = 4096     // copy and usage refuse deeper trees; remove has no limit
	treeChunk           = maxFrame // the fewer frames, the less each byte costs on the host
	defaultReadWindow   = 8 << 20
)

var (
	treeRoot  int
	treeToken string
	noOpenat2 bool
	errRoot   = errors.New("is the root of the tree")
	errDeep   = errors.New("is nested too deeply")
	errKind   = errors.New("only files, directories and symlinks are copied")
)

type treeRequest struct {
	Op        string `json:"op"`
	Path      string `json:"path"`
	To        string `json:"to"`
	Recursive bool   `json:"recursive"`
	Window    int64  `json:"window"` // read: bytes sent ahead of the host's acknowledgements
	Limit     int64  `json:"limit"`  // write: the most bytes a file may have
}

// serveRoot serves the tree at dir until standard input closes; it does not return.
func serveRoot(dir, socket string) {
	fd, err := syscall.Open(dir, oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runtools-daemon: %s: %v\n", dir, err)
		os.Exit(1)
	}
	treeRoot = fd
	rand.Seed(time.Now().UnixNano())
	treeToken = os.Getenv("RUNTOOLS_TREE_TOKEN")
	os.Unsetenv("RUNTOOLS_TREE_TOKEN")
	// Bound by its name in its directory: a socket path may be longer than a sockaddr holds.
	if err := os.Chdir(filepath.Dir(socket)); err != nil {
		fmt.Fprintf(os.Stderr, "runtools-daemon: %v\n", err)
		os.Exit(1)
	}
	name := filepath.Base(socket)
	_ = os.Remove(name)
	l, err := net.Listen("unix", name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runtools-daemon: %v\n", err)
		os.Exit(1)
	}
	_ = os.Chmod(name, 0o600)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = os.Remove(name)
		os.Exit(0)
	}()
	for {
		raw, err := l.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			os.Exit(1)
		}
		go serveTree(raw)
	}
}

// serveTree is serve() without processes, ports or quiescing: tree operations only.
func serveTree(raw net.Conn) {
	defer raw.Close()
	s := &session{c: &conn{w: bufio.NewWriterSize(raw, 128<<10), raw: raw}, streams: map[uint32]*stream{}}
	if err := s.c.sendJSON(0, frameHello, map[string]string{"token": treeToken}); err != nil {
		return
	}
	reader := bufio.NewReaderSize(raw, 128<<10)
	defer func() {
		s.mu.Lock()
		for _, st := range s.streams {
			st.cancel()
		}
		s.streams = map[uint32]*stream{}
		s.mu.Unlock()
		s.c.mu.Lock()
		s.c.closed = true
		s.c.mu.Unlock()
	}()
	for {
		f, err := readFrame(reader)
		if err != nil {
			return
		}
		if f.kind == frameOpen {
			var req treeRequest
			// Up to 16 frames (16 MiB of an upload) wait for a stream; then this connection waits for it.
			st := &stream{id: f.stream, c: s.c, input: make(chan frame, 16), cancelled: make(chan struct{}), session: s}
			s.mu.Lock()
			_, taken := s.streams[f.stream]
			if !taken {
				s.streams[f.stream] = st
			}
			s.mu.Unlock()
			if taken {
				_ = s.c.sendJSON(f.stream, frameEnd, errorResult{Error: failure{Code: "invalid", Message: "stream id in use"}})
				continue
			}
			if err := json.Unmarshal(f.payload, &req); err != nil {
				st.fail("invalid", "request is not JSON: %v", err)
				continue
			}
			go treeDispatch(st, req)
			continue
		}
		s.mu.Lock()
		st := s.streams[f.stream]
		s.mu.Unlock()
		if st == nil {
			continue
		}
		if f.kind == frameCancel {
			st.cancel()
			continue
		}
		select {
		case st.input <- f:
		case <-st.cancelled:
		}
	}
}

func treeDispatch(s *stream, req treeRequest) {
	parts, err := treePath(req.Path)
	if err != nil {
		treeFail(s, err, req.Path)
		return
	}
	switch req.Op {
	case "ping":
		s.end(map[string]any{"version": version, "pid": os.Getpid()})
	case "stat":
		err = treeStat(s, parts)
	case "list":
		err = treeList(s, parts)
	case "read":
		err = treeRead(s, parts, req.Window)
	case "write":
		err = treeWrite(s, parts, req.Limit)
	case "mkdir":
		err = treeMkdir(s, parts)
	case "remove":
		err = treeRemove(s, parts, req.Recursive)
	case "move", "copy":
		var to []string
		if to, err = treePath(req.To); err == nil {
			err = treeMoveOrCopy(s, parts, to, req.Op == "copy")
		}
	case "usage":
		err = treeUsage(s, parts)
	default:
		s.fail("invalid", "unknown operation %q", req.Op)
	}
	if err != nil {
		treeFail(s, err, req.Path)
	}
}

func treeFail(s *stream, err error, path string) {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && errno == syscall.ELOOP:
		s.fail("symlink", "%s: is a symlink or passes through one", path)
	case errors.As(err, &errno) && errno == syscall.EXDEV:
		s.fail("invalid", "%s: crosses a mount point", path)
	case errors.As(err, &errno) && errno == syscall.EINVAL:
		s.fail("invalid", "%s: invalid (moved into itself?)", path)
	case errors.Is(err, errRoot), errors.Is(err, errDeep), errors.Is(err, errKind):
		s.fail("invalid", "%s: %v", path, err)
	default:
		failFS(s, err, path)
	}
}

// treePath splits a path of the tree ("/" or "" is its root) into its names; "." and ".." are refused.
func treePath(path string) ([]string, error) {
	var parts []string
	for _, part := range strings.Split(path, "/") {
		switch {
		case part == "":
		case part == "." || part == ".." || len(part) > 255 || strings.IndexByte(part, 0) >= 0:
			return nil, syscall.EINVAL
		default:
			parts = append(parts, part)
		}
	}
	return parts, nil
}

type openHow struct{ flags, mode, resolve uint64 }

// openBeneath opens the path of names below the root; no component may be a symlink (with O_PATH a last
// component that is one is opened as itself).
func openBeneath(parts []string, flags int) (int, error) {
	flags |= syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	if len(parts) == 0 {
		return syscall.Openat(treeRoot, ".", flags, 0)
	}
	if noOpenat2 {
		return walkBeneath(parts, flags)
	}
	path, err := syscall.BytePtrFromString(strings.Join(parts, "/"))
	if err != nil {
		return -1, err
	}
	how := openHow{flags: uint64(flags), resolve: resolveBeneath | resolveNoSymlinks | resolveNoMagiclinks | resolveNoXdev}
	for attempt := 0; ; attempt++ {
		fd, _, errno := syscall.Syscall6(sysOpenat2, uintptr(treeRoot), uintptr(unsafe.Pointer(path)),
			uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch {
		case errno == 0:
			return int(fd), nil
		case errno == syscall.ENOSYS:
			noOpenat2 = true
			return walkBeneath(parts, flags)
		case (errno == syscall.EAGAIN || errno == syscall.EINTR) && attempt < 16:
			continue
		}
		return -1, errno
	}
}

// walkBeneath is openBeneath without openat2: one O_NOFOLLOW openat per name.
func walkBeneath(parts []string, flags int) (int, error) {
	fd := treeRoot
	for i, part := range parts {
		var next int
		var err error
		if i == len(parts)-1 {
			next, err = syscall.Openat(fd, part, flags, 0)
		} else {
			next, err = dirAt(fd, part)
		}
		if fd != treeRoot {
			syscall.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// directory checks that an O_PATH descriptor is a directory: a symlink fails with ELOOP (whichever path
// led to it), anything else with ENOTDIR. It closes fd when it fails.
func directory(fd int, err error) (int, error) {
	if err != nil {
		return -1, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fd, nil
	case syscall.S_IFLNK:
		err = syscall.ELOOP
	default:
		err = syscall.ENOTDIR
	}
	syscall.Close(fd)
	return -1, err
}

// dirBeneath opens the directory parts names (O_PATH).
func dirBeneath(parts []string) (int, error) {
	return directory(openBeneath(parts, oPath))
}

// dirAt opens the directory name in dir (O_PATH), never through a symlink.
func dirAt(dir int, name string) (int, error) {
	return directory(syscall.Openat(dir, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0))
}

// parentOf opens the directory holding the last name of parts.
func parentOf(parts []string) (int, string, error) {
	if len(parts) == 0 {
		return -1, "", errRoot
	}
	fd, err := dirBeneath(parts[:len(parts)-1])
	return fd, parts[len(parts)-1], err
}

// makeDirs is mkdir -p by descriptors, never through a symlink; it returns the last directory, opened.
func makeDirs(parts []string) (int, error) {
	fd, err := syscall.Openat(treeRoot, ".", oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, part := range parts {
		next, err := dirAt(fd, part)
		if err == syscall.ENOENT {
			if err = syscall.Mkdirat(fd, part, 0o777); err == nil || err == syscall.EEXIST {
				next, err = dirAt(fd, part)
			}
		}
		syscall.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

func lstatAt(dir int, name string) (syscall.Stat_t, error) {
	var st syscall.Stat_t
	fd, err := syscall.Openat(dir, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return st, err
	}
	defer syscall.Close(fd)
	return st, syscall.Fstat(fd, &st)
}

func unlinkAt(dir int, name string, flags int) error {
	path, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_UNLINKAT, uintptr(dir), uintptr(unsafe.Pointer(path)), uintptr(flags)); errno != 0 {
		return errno
	}
	return nil
}

// readlinkFd reads the target of a symlink opened with O_PATH | O_NOFOLLOW.
func readlinkFd(fd int) (string, error) {
	empty, _ := syscall.BytePtrFromString("")
	buf := make([]byte, 4096)
	n, _, errno := syscall.Syscall6(syscall.SYS_READLINKAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return "", errno
	}
	return string(buf[:n]), nil
}

func symlinkAt(target string, dir int, name string) error {
	targetPtr, err := syscall.BytePtrFromString(target)
	if err != nil {
		return err
	}
	namePtr, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_SYMLINKAT, uintptr(unsafe.Pointer(targetPtr)), uintptr(dir),
		uintptr(unsafe.Pointer(namePtr))); errno != 0 {
		return errno
	}
	return nil
}

// reopen opens what an O_PATH descriptor names (the same inode, whatever its name is now).
func reopen(fd int, flags int) (*os.File, error) {
	return os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), flags|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
}

// names lists a directory given by an O_PATH descriptor.
func names(fd int) ([]string, error) {
	dir, err := reopen(fd, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return dir.Readdirnames(-1)
}

type treeEntry struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Size       int64  `json:"size"`
	Mode       uint32 `json:"mode"`
	ModifiedAt string `json:"modifiedAt"`
}

func describeStat(name string, st *syscall.Stat_t) treeEntry {
	kind := "other"
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		kind = "file"
	case syscall.S_IFDIR:
		kind = "dir"
	case syscall.S_IFLNK:
		kind = "symlink"
	}
	return treeEntry{
		Name: name, Type: kind, Size: st.Size, Mode: st.Mode & 0o7777,
		ModifiedAt: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}

// describeAt describes the last name of parts (a symlink as itself).
func describeAt(parts []string) (treeEntry, error) {
	var st syscall.Stat_t
	if len(parts) == 0 {
		if err := syscall.Fstat(treeRoot, &st); err != nil {
			return treeEntry{}, err
		}
		return describeStat("/", &st), nil
	}
	dir, name, err := parentOf(parts)
	if err != nil {
		return treeEntry{}, err
	}
	defer syscall.Close(dir)
	if st, err = lstatAt(dir, name); err != nil {
		return treeEntry{}, err
	}
	return describeStat(name, &st), nil
}

func treeStat(s *stream, parts []string) error {
	entry, err := describeAt(parts)
	if err != nil {
		return err
	}
	s.end(entry)
	return nil
}

func treeList(s *stream, parts []string) error {
	dir, err := dirBeneath(parts)
	if err != nil {
		return err
	}
	defer syscall.Close(dir)
	list, err := names(dir)
	if err != nil {
		return err
	}
	entries := make([]treeEntry, 0, len(list))
	for _, name := range list {
		if st, err := lstatAt(dir, name); err == nil { // else removed while listing
			entries = append(entries, describeStat(name, &st))
		}
	}
	s.end(map[string]any{"entries": entries})
	return nil
}

// treeRead sends a regular file's bytes, at most `window` ahead of what the host has acknowledged (each
// in-frame from the host carries a decimal count of bytes it has passed on), so a slow reader holds memory
// on neither side.
func treeRead(s *stream, parts []string, window int64) error {
	fd, err := openBeneath(parts, oPath)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		return syscall.EISDIR
	case syscall.S_IFLNK:
		return syscall.ELOOP
	default:
		s.fail("invalid", "not a regular file")
		return nil
	}
	file, err := reopen(fd, syscall.O_RDONLY)
	if err != nil {
		return err
	}
	defer file.Close()
	if window <= 0 {
		window = defaultReadWindow
	}
	_ = s.event(map[string]any{"type": "file", "size": st.Size, "mode": st.Mode & 0o7777})
	buf := make([]byte, treeChunk)
	var sent, acknowledged int64
	for {
		for sent-acknowledged >= window {
			select {
			case <-s.cancelled:
				s.end(map[string]any{"cancelled": true})
				return nil
			case fr := <-s.input:
				if n, err := strconv.ParseInt(string(fr.payload), 10, 64); err == nil && fr.kind == frameIn {
					acknowledged += n
				}
			}
		}
		select {
		case <-s.cancelled:
			s.end(map[string]any{"cancelled": true})
			return nil
		case fr := <-s.input: // an acknowledgement ahead of need
			if n, err := strconv.ParseInt(string(fr.payload), 10, 64); err == nil && fr.kind == frameIn {
				acknowledged += n
			}
			continue
		default:
		}
		n, err := file.Read(buf)
		if n > 0 {
			if s.out(frameOut, append([]byte(nil), buf[:n]...)) != nil {
				return nil
			}
			sent += int64(n)
		}
		if err == io.EOF {
			s.end(map[string]any{"bytes": sent})
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// treeWrite takes the content as in-frames into a new temporary file beside the target (parents are made),
// renamed over it when complete: a failed or refused upload leaves the old file as it was.
func treeWrite(s *stream, parts []string, limit int64) error {
	if len(parts) == 0 {
		return errRoot
	}
	dir, err := makeDirs(parts[:len(parts)-1])
	if err != nil {
		return err
	}
	defer syscall.Close(dir)
	name := parts[len(parts)-1]
	if st, err := lstatAt(dir, name); err == nil {
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			return syscall.ELOOP
		case syscall.S_IFDIR:
			return syscall.EISDIR
		}
	}
	temporary := "." + name + ".upload-" + strconv.FormatInt(rand.Int63(), 36)
	if len(temporary) > 255 {
		temporary = ".upload-" + strconv.FormatInt(rand.Int63(), 36)
	}
	fd, err := syscall.Openat(dir, temporary,
		syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o666)
	if err != nil {
		return err
	}
	file := os.NewFile(uintptr(fd), temporary)
	abandon := func() {
		file.Close()
		_ = unlinkAt(dir, temporary, 0)
	}
	var written int64
	for {
		select {
		case <-s.cancelled:
			abandon()
			s.end(map[string]any{"cancelled": true})
			return nil
		case fr := <-s.input:
			switch fr.kind {
			case frameIn:
				written += int64(len(fr.payload))
				if limit > 0 && written > limit {
					abandon()
					s.fail("too_large", "larger than %d bytes", limit)
					return nil
				}
				if _, err := file.Write(fr.payload); err != nil {
					abandon()
					return err
				}
			case frameInEnd:
				if err := file.Close(); err != nil {
					_ = unlinkAt(dir, temporary, 0)
					return err
				}
				if err := syscall.Renameat(dir, temporary, dir, name); err != nil {
					_ = unlinkAt(dir, temporary, 0)
					return err
				}
				st, err := lstatAt(dir, name)
				if err != nil {
					return err
				}
				s.end(describeStat(name, &st))
				return nil
			}
		}
	}
}

func treeMkdir(s *stream, parts []string) error {
	dir, err := makeDirs(parts)
	if err != nil {
		return err
	}
	defer syscall.Close(dir)
	var st syscall.Stat_t
	if err := syscall.Fstat(dir, &st); err != nil {
		return err
	}
	name := "/"
	if len(parts) > 0 {
		name = parts[len(parts)-1]
	}
	s.end(describeStat(name, &st))
	return nil
}

func treeRemove(s *stream, parts []string, recursive bool) error {
	dir, name, err := parentOf(parts)
	if err != nil {
		return err
	}
	defer syscall.Close(dir)
	if _, err := lstatAt(dir, name); err != nil {
		return err
	}
	if recursive {
		err = removeAt(dir, name)
	} else if err = unlinkAt(dir, name, 0); err == syscall.EISDIR {
		err = unlinkAt(dir, name, atRemoveDir)
	}
	if err != nil {
		return err
	}
	s.end(map[string]any{"removed": true})
	return nil
}

// removeAt is rm -r by descriptors: a directory swapped for a symlink meanwhile is unlinked, not followed;
// one refilled meanwhile is emptied again, a few times.
func removeAt(dir int, name string) error {
	err := unlinkAt(dir, name, 0)
	if err != syscall.EISDIR {
		return err
	}
	for attempt := 0; attempt < 5; attempt++ {
		fd, err := syscall.Openat(dir, name, oPath|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if err == syscall.ENOTDIR || err == syscall.ELOOP {
			return unlinkAt(dir, name, 0)
		}
		if err != nil {
			return err
		}
		children, err := names(fd)
		for _, child := range children {
			if err == nil {
				if err = removeAt(fd, child); err == syscall.ENOENT {
					err = nil
				}
			}
		}
		syscall.Close(fd)
		if err != nil {
			return err
		}
		if err = unlinkAt(dir, name, atRemoveDir); err != syscall.ENOTEMPTY {
			return err
		}
	}
	return syscall.ENOTEMPTY
}

// treeMoveOrCopy renames or copies (recursively, symlinks as symlinks) a path to another; the target's
// parents are made, and a target that is a symlink is refused rather than replaced.
func treeMoveOrCopy(s *stream, from, to []string, copying bool) error {
	fromDir, fromName, err := parentOf(from)
	if err != nil {
		return err
	}
	defer syscall.Close(fromDir)
	st, err := lstatAt(fromDir, fromName)
	if err != nil {
		return err
	}
	if copying && st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return syscall.ELOOP
	}
	if len(to) == 0 {
		return errRoot
	}
	toDir, err := makeDirs(to[:len(to)-1])
	if err != nil {
		return err
	}
	defer syscall.Close(toDir)
	toName := to[len(to)-1]
	if existing, err := lstatAt(toDir, toName); err == nil && existing.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return syscall.ELOOP
	}
	if copying {
		err = copyAt(fromDir, fromName, toDir, toName, 0)
	} else {
		err = syscall.Renameat(fromDir, fromName, toDir, toName)
	}
	if err != nil {
		return err
	}
	if st, err = lstatAt(toDir, toName); err != nil {
		return err
	}
	s.end(describeStat(toName, &st))
	return nil
}

// copyAt copies what name in srcDir is to a new dstName in dstDir: a file's bytes, a directory's entries, a
// symlink as a symlink; FIFOs, sockets and devices are left out.
func copyAt(srcDir int, srcName string, dstDir int, dstName string, depth int) error {
	if depth > maxTreeDepth {
		return errDeep
	}
	fd, err := syscall.Openat(srcDir, srcName, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		in, err := reopen(fd, syscall.O_RDONLY)
		if err != nil {
			return err
		}
		defer in.Close()
		outFd, err := syscall.Openat(dstDir, dstName,
			syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, st.Mode&0o777)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(outFd), dstName)
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	case syscall.S_IFDIR:
		if err := syscall.Mkdirat(dstDir, dstName, st.Mode&0o7777|0o700); err != nil {
			return err
		}
		dst, err := dirAt(dstDir, dstName)
		if err != nil {
			return err
		}
		defer syscall.Close(dst)
		children, err := names(fd)
		if err != nil {
			return err
		}
		for _, child := range children {
			if err := copyAt(fd, child, dst, child, depth+1); err != nil && err != syscall.ENOENT {
				return err
			}
		}
		return nil
	case syscall.S_IFLNK:
		target, err := readlinkFd(fd)
		if err != nil {
			return err
		}
		return symlinkAt(target, dstDir, dstName)
	}
	if depth == 0 {
		return errKind
	}
	return nil // a FIFO, socket or device inside a directory is left out
}

func treeUsage(s *stream, parts []string) error {
	fd, err := dirBeneath(parts)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var usage struct {
		Bytes       int64 `json:"bytes"`
		Files       int64 `json:"files"`
		Directories int64 `json:"directories"`
	}
	var walk func(dir int, depth int) error
	walk = func(dir int, depth int) error {
		if depth > maxTreeDepth {
			return errDeep
		}
		children, err := names(dir)
		if err != nil {
			return err
		}
		for _, child := range children {
			st, err := lstatAt(dir, child)
			if err != nil {
				continue // removed meanwhile
			}
			if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				usage.Files++
				usage.Bytes += st.Size
				continue
			}
			usage.Directories++
			sub, err := dirAt(dir, child)
			if err != nil {
				continue // replaced meanwhile
			}
			err = walk(sub, depth+1)
			syscall.Close(sub)
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(fd, 0); err != nil {
		return err
	}
	s.end(usage)
	return nil
}
