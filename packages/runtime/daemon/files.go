package main

import (
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Paths are the sandbox's own: this process runs inside it, so its root is the boundary.
func clean(path string) string {
	if !filepath.IsAbs(path) {
		path = "/" + path
	}
	return filepath.Clean(path)
}

func fsFailure(err error, path string) failure {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return failure{Code: "not_found", Message: path + ": no such file or directory"}
	case errors.Is(err, fs.ErrExist):
		return failure{Code: "already_exists", Message: path + ": already exists"}
	case errors.Is(err, fs.ErrPermission):
		return failure{Code: "permission_denied", Message: path + ": permission denied"}
	case errors.As(err, &errno) && errno == syscall.EISDIR:
		return failure{Code: "is_directory", Message: path + ": is a directory"}
	case errors.As(err, &errno) && errno == syscall.ENOTDIR:
		return failure{Code: "not_directory", Message: path + ": not a directory"}
	case errors.As(err, &errno) && errno == syscall.ENOTEMPTY:
		return failure{Code: "not_empty", Message: path + ": directory not empty"}
	case errors.As(err, &errno) && errno == syscall.ENOSPC:
		return failure{Code: "no_space", Message: path + ": no space left on device"}
	}
	return failure{Code: "io", Message: err.Error()}
}

func failFS(s *stream, err error, path string) { s.end(errorResult{Error: fsFailure(err, path)}) }

type entry struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Type       string `json:"type"`
	Size       int64  `json:"size"`
	Mode       uint32 `json:"mode"`
	ModifiedAt string `json:"modifiedAt"`
	Target     string `json:"target,omitempty"`
}

func describe(path string, info fs.FileInfo) entry {
	kind := "other"
	switch {
	case info.Mode().IsRegular():
		kind = "file"
	case info.IsDir():
		kind = "dir"
	case info.Mode()&fs.ModeSymlink != 0:
		kind = "symlink"
	}
	e := entry{
		Name: info.Name(), Path: path, Type: kind, Size: info.Size(), Mode: uint32(info.Mode().Perm()),
		ModifiedAt: info.ModTime().UTC().Format(time.RFC3339Nano),
	}
	if kind == "symlink" {
		e.Target, _ = os.Readlink(path)
	}
	return e
}

func readFile(s *stream, req request) {
	path := clean(req.Path)
	f, err := os.Open(path)
	if err != nil {
		failFS(s, err, path)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		failFS(s, err, path)
		return
	}
	if info.IsDir() {
		failFS(s, syscall.EISDIR, path)
		return
	}
	if req.Offset > 0 {
		if _, err := f.Seek(req.Offset, io.SeekStart); err != nil {
			failFS(s, err, path)
			return
		}
	}
	var reader io.Reader = f
	if req.Length > 0 {
		reader = io.LimitReader(f, req.Length)
	}
	_ = s.event(map[string]any{"type": "file", "size": info.Size(), "mode": uint32(info.Mode().Perm())})
	buf := make([]byte, chunkSize)
	var sent int64
	for {
		select {
		case <-s.cancelled:
			s.end(map[string]any{"cancelled": true})
			return
		default:
		}
		n, err := reader.Read(buf)
		if n > 0 {
			if s.out(frameOut, append([]byte(nil), buf[:n]...)) != nil {
				return
			}
			sent += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			failFS(s, err, path)
			return
		}
	}
	s.end(map[string]any{"bytes": sent})
}

// writeFile takes the content as in-frames; unless appending, it lands in a temporary file that is renamed
// over the target when complete, so a reader never sees half a file and a failed upload leaves the old one.
func writeFile(s *stream, req request) {
	path := clean(req.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		failFS(s, err, filepath.Dir(path))
		return
	}
	mode := fs.FileMode(0o644)
	if req.Mode != 0 {
		mode = fs.FileMode(req.Mode & 0o7777)
	}
	if info, err := os.Stat(path); err == nil {
		if info.IsDir() {
			failFS(s, syscall.EISDIR, path)
			return
		}
		if req.Mode == 0 {
			mode = info.Mode().Perm()
		}
	}
	target := path
	var f *os.File
	var err error
	if req.Append {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, mode)
	} else {
		target = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".runtools-"+strconv.FormatInt(rand.Int63(), 36))
		f, err = os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	}
	if err != nil {
		failFS(s, err, path)
		return
	}
	abandon := func() {
		f.Close()
		if target != path {
			os.Remove(target)
		}
	}
	var written int64
	for {
		select {
		case <-s.cancelled:
			abandon()
			s.end(map[string]any{"cancelled": true})
			return
		case fr := <-s.input:
			switch fr.kind {
			case frameIn:
				n, err := f.Write(fr.payload)
				written += int64(n)
				if err != nil {
					abandon()
					failFS(s, err, path)
					return
				}
			case frameInEnd:
				if err := f.Chmod(mode); err != nil && !req.Append {
					abandon()
					failFS(s, err, path)
					return
				}
				if err := f.Close(); err != nil {
					abandon()
					failFS(s, err, path)
					return
				}
				if target != path {
					if err := os.Rename(target, path); err != nil {
						os.Remove(target)
						failFS(s, err, path)
						return
					}
				}
				s.end(map[string]any{"bytes": written, "path": path})
				return
			}
		}
	}
}

func listDir(s *stream, req request) {
	path := clean(req.Path)
	items, err := os.ReadDir(path)
	if err != nil {
		failFS(s, err, path)
		return
	}
	entries := make([]entry, 0, len(items))
	for _, item := range items {
		info, err := item.Info()
		if err != nil {
			continue // removed while listing
		}
		entries = append(entries, describe(filepath.Join(path, item.Name()), info))
	}
	s.end(map[string]any{"entries": entries})
}

func statPath(s *stream, req request) {
	path := clean(req.Path)
	stat := os.Lstat
	if req.Follow {
		stat = os.Stat
	}
	info, err := stat(path)
	if err != nil {
		failFS(s, err, path)
		return
	}
	s.end(describe(path, info))
}

func makeDir(s *stream, req request) {
	path := clean(req.Path)
	var err error
	if req.Recursive {
		err = os.MkdirAll(path, 0o755)
	} else {
		err = os.Mkdir(path, 0o755)
	}
	if err != nil {
		failFS(s, err, path)
		return
	}
	s.end(map[string]any{"path": path})
}

func removePath(s *stream, req request) {
	path := clean(req.Path)
	if path == "/" {
		s.fail("invalid", "refusing to remove /")
		return
	}
	info, err := os.Lstat(path)
	if err != nil {
		failFS(s, err, path)
		return
	}
	if info.IsDir() && req.Recursive {
		err = os.RemoveAll(path)
	} else {
		err = os.Remove(path)
	}
	if err != nil {
		failFS(s, err, path)
		return
	}
	s.end(map[string]any{"path": path})
}

func movePath(s *stream, req request) {
	from, to := clean(req.Path), clean(req.To)
	if _, err := os.Lstat(from); err != nil {
		failFS(s, err, from)
		return
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		failFS(s, err, filepath.Dir(to))
		return
	}
	if err := os.Rename(from, to); err != nil {
		failFS(s, err, to)
		return
	}
	s.end(map[string]any{"path": to})
}

// setAttributes changes what the request names of a path (owner, permission bits, access and modification
// times; a time not given keeps its value) and answers the entry as it is afterwards.
func setAttributes(s *stream, req request) {
	path := clean(req.Path)
	info, err := os.Stat(path)
	if err != nil {
		failFS(s, err, path)
		return
	}
	if req.UID != nil || req.GID != nil {
		uid, gid := -1, -1
		if req.UID != nil {
			uid = *req.UID
		}
		if req.GID != nil {
			gid = *req.GID
		}
		if err := os.Chown(path, uid, gid); err != nil {
			failFS(s, err, path)
			return
		}
	}
	if req.Perm != nil {
		if err := os.Chmod(path, fs.FileMode(*req.Perm&0o777)|modeBits(*req.Perm)); err != nil {
			failFS(s, err, path)
			return
		}
	}
	if req.Atime != nil || req.Mtime != nil {
		atime, mtime := info.ModTime(), info.ModTime()
		if stat, ok := info.Sys().(*syscall.Stat_t); ok {
			atime = time.Unix(stat.Atim.Sec, stat.Atim.Nsec)
		}
		if req.Atime != nil {
			atime = time.Unix(*req.Atime, 0)
		}
		if req.Mtime != nil {
			mtime = time.Unix(*req.Mtime, 0)
		}
		if err := os.Chtimes(path, atime, mtime); err != nil {
			failFS(s, err, path)
			return
		}
	}
	if info, err = os.Stat(path); err != nil {
		failFS(s, err, path)
		return
	}
	s.end(describe(path, info))
}

// modeBits turns setuid, setgid and sticky bits as chmod(2) numbers them into Go's file mode flags.
func modeBits(perm uint32) fs.FileMode {
	var mode fs.FileMode
	if perm&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if perm&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if perm&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
