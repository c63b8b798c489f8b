package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

const watchMask = syscall.IN_CREATE | syscall.IN_CLOSE_WRITE | syscall.IN_MODIFY | syscall.IN_DELETE |
	syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_ATTRIB | syscall.IN_DELETE_SELF

// watch streams filesystem events under a directory (recursively if asked) until the stream is cancelled.
func watch(s *stream, req request) {
	root := clean(req.Path)
	info, err := os.Stat(root)
	if err != nil {
		failFS(s, err, root)
		return
	}
	if !info.IsDir() {
		failFS(s, syscall.ENOTDIR, root)
		return
	}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		s.fail("io", "inotify: %v", err)
		return
	}
	file := os.NewFile(uintptr(fd), "inotify")
	dirs := map[int]string{}
	add := func(dir string) {
		if wd, err := syscall.InotifyAddWatch(fd, dir, watchMask); err == nil {
			dirs[wd] = dir
		}
	}
	if req.Recursive {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				add(path)
			}
			return nil
		})
	} else {
		add(root)
	}
	events := make(chan map[string]any, 256)
	go func() {
		defer close(events)
		buf := make([]byte, 64<<10)
		for {
			n, err := file.Read(buf)
			if err != nil {
				return
			}
			for offset := 0; offset+syscall.SizeofInotifyEvent <= n; {
				raw := buf[offset : offset+syscall.SizeofInotifyEvent]
				wd := int(int32(binary.LittleEndian.Uint32(raw[0:4])))
				mask := binary.LittleEndian.Uint32(raw[4:8])
				nameLen := int(binary.LittleEndian.Uint32(raw[12:16]))
				name := string(bytes.TrimRight(buf[offset+syscall.SizeofInotifyEvent:offset+syscall.SizeofInotifyEvent+nameLen], "\x00"))
				offset += syscall.SizeofInotifyEvent + nameLen
				dir, ok := dirs[wd]
				if !ok {
					continue
				}
				path := dir
				if name != "" {
					path = filepath.Join(dir, name)
				}
				isDir := mask&syscall.IN_ISDIR != 0
				kind := ""
				newDir := ""
				switch {
				case mask&syscall.IN_CREATE != 0, mask&syscall.IN_MOVED_TO != 0:
					kind = "create"
					if isDir && req.Recursive {
						newDir = path
					}
				case mask&syscall.IN_CLOSE_WRITE != 0, mask&syscall.IN_MODIFY != 0:
					kind = "write"
				case mask&syscall.IN_DELETE != 0, mask&syscall.IN_MOVED_FROM != 0:
					kind = "remove"
				case mask&syscall.IN_ATTRIB != 0:
					kind = "chmod"
				}
				if kind == "" || (kind == "write" && isDir) {
					continue
				}
				events <- map[string]any{"type": kind, "path": path, "isDir": isDir}
				if newDir != "" {
					// What was made inside before its watch was in place is reported as created now.
					add(newDir)
					_ = filepath.WalkDir(newDir, func(inner string, d fs.DirEntry, err error) error {
						if err != nil || inner == newDir {
							return nil
						}
						if d.IsDir() {
							add(inner)
						}
						events <- map[string]any{"type": "create", "path": inner, "isDir": d.IsDir()}
						return nil
					})
				}
			}
		}
	}()
	_ = s.event(map[string]any{"type": "ready"})
	for {
		select {
		case e, ok := <-events:
			if !ok {
				s.end(map[string]any{})
				return
			}
			if s.event(e) != nil {
				file.Close()
				return
			}
		case <-s.cancelled:
			file.Close()
			s.end(map[string]any{"cancelled": true})
			return
		}
	}
}

// spliceConnection dials a port inside the sandbox for a connection the host opened for it alone: after the
// "connected" event the connection carries the TCP bytes as they are, both ways, with half-closes passed on.
// This is the dev-URL proxy's fast path: no framing or multiplexing on either side.
func spliceConnection(s *stream, req request, reader *bufio.Reader, raw net.Conn) {
	if req.Port < 1 || req.Port > 65535 {
		s.fail("invalid", "port %d is out of range", req.Port)
		return
	}
	socket, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(req.Port))
	if err != nil {
		s.fail("port_closed", "nothing is listening on port %d in the sandbox", req.Port)
		return
	}
	tcp := socket.(*net.TCPConn)
	defer tcp.Close()
	if s.event(map[string]any{"type": "connected"}) != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(raw, tcp)
		if unix, ok := raw.(*net.UnixConn); ok {
			_ = unix.CloseWrite()
		}
	}()
	// Bytes the frame reader has already buffered come first.
	if _, err := io.Copy(tcp, reader); err == nil {
		_ = tcp.CloseWrite()
	} else {
		tcp.Close()
	}
	<-done
}
