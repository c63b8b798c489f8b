// runtools-daemon runs as the first process of every sandbox. It serves exec (foreground, streaming,
// background, stdin, signals, PTY), files (read, write, list, stat, mkdir, remove, move, watch) and TCP port
// forwarding to the control plane over a Unix socket that the host bind-mounts into the sandbox, so that an
// exec costs a message on an open connection instead of a runtime round trip.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

const version = "1"

type request struct {
	Op         string            `json:"op"`
	Argv       []string          `json:"argv"`
	Env        map[string]string `json:"env"`
	Cwd        string            `json:"cwd"`
	TimeoutMs  int64             `json:"timeoutMs"`
	Pty        *winsize          `json:"pty"`
	Background bool              `json:"background"`
	Pid        int               `json:"pid"`
	Signal     string            `json:"signal"`
	Since      int64             `json:"since"`
	Path       string            `json:"path"`
	To         string            `json:"to"`
	Recursive  bool              `json:"recursive"`
	Append     bool              `json:"append"` // write: append; stdin: close stdin at the end
	Mode       uint32            `json:"mode"`
	Offset     int64             `json:"offset"`
	Length     int64             `json:"length"`
	Port       int               `json:"port"`
	Follow     bool              `json:"follow"` // stat: follow a final symlink
	Perm       *uint32           `json:"perm"`   // setattr: permission bits
	Atime      *int64            `json:"atime"`  // setattr: seconds since the epoch
	Mtime      *int64            `json:"mtime"`
	UID        *int              `json:"uid"`
	GID        *int              `json:"gid"`
}

type control struct {
	Signal string   `json:"signal"`
	Resize *winsize `json:"resize"`
}

// stream is one operation on a connection: frames the host sends for it arrive on input.
type stream struct {
	id        uint32
	c         *conn
	input     chan frame
	cancelled chan struct{}
	once      sync.Once
	session   *session
}

func (s *stream) cancel() { s.once.Do(func() { close(s.cancelled) }) }

func (s *stream) out(kind byte, data []byte) error { return s.c.send(s.id, kind, data) }

func (s *stream) event(value any) error { return s.c.sendJSON(s.id, frameEvent, value) }

// end sends the result and forgets the stream.
func (s *stream) end(value any) {
	s.session.forget(s.id)
	_ = s.c.sendJSON(s.id, frameEnd, value)
}

func (s *stream) fail(code, format string, args ...any) {
	s.end(errorResult{Error: failure{Code: code, Message: fmt.Sprintf(format, args...)}})
}

// session is one host connection and its open streams.
type session struct {
	c       *conn
	mu      sync.Mutex
	streams map[uint32]*stream
}

func (s *session) forget(id uint32) {
	s.mu.Lock()
	delete(s.streams, id)
	s.mu.Unlock()
}

func serve(raw net.Conn) {
	defer raw.Close()
	s := &session{c: &conn{w: bufio.NewWriterSize(raw, 128<<10), raw: raw}, streams: map[uint32]*stream{}}
	if err := s.c.sendJSON(0, frameHello, map[string]string{"token": currentToken()}); err != nil {
		return
	}
	sessionsMu.Lock()
	sessions[s] = raw
	sessionsMu.Unlock()
	defer func() {
		sessionsMu.Lock()
		delete(sessions, s)
		sessionsMu.Unlock()
	}()
	reader := bufio.NewReaderSize(raw, 128<<10)
	defer func() {
		// The host went away: every stream it had stops (foreground commands are killed, like an SSH session's).
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
			var req request
			st := &stream{id: f.stream, c: s.c, input: make(chan frame, 256), cancelled: make(chan struct{}), session: s}
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
			if req.Op == "connect" {
				// The connection is this TCP stream from now on: no frames, no other streams.
				spliceConnection(st, req, reader, raw)
				return
			}
			go dispatch(st, req)
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

func dispatch(s *stream, req request) {
	switch req.Op {
	case "ping":
		s.end(map[string]any{"version": version, "pid": os.Getpid()})
	case "quiesce":
		quiesce(s)
	case "exec":
		execForeground(s, req)
	case "spawn":
		spawnBackground(s, req)
	case "attach":
		attach(s, req)
	case "stdin":
		stdinTo(s, req)
	case "kill":
		killProcess(s, req)
	case "resize":
		resizeProcess(s, req)
	case "ps":
		listProcesses(s)
	case "read":
		readFile(s, req)
	case "write":
		writeFile(s, req)
	case "list":
		listDir(s, req)
	case "stat":
		statPath(s, req)
	case "mkdir":
		makeDir(s, req)
	case "remove":
		removePath(s, req)
	case "move":
		movePath(s, req)
	case "setattr":
		setAttributes(s, req)
	case "watch":
		watch(s, req)
	default:
		s.fail("invalid", "unknown operation %q", req.Op)
	}
}

// prewarmThreads makes the Go runtime start n OS threads now; they stay in its idle pool. When a fork bomb
// has used up the sandbox's process limit, the runtime cannot start a thread, and a Go program that needs
// one dies: the daemon keeps enough to go on serving (and to see the bomb's processes reaped).
func prewarmThreads(n int) {
	var ready sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		go func() {
			runtime.LockOSThread()
			ready.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	ready.Wait()
	close(release)
}

func main() {
	socket := flag.String("socket", "/.runtools/run/daemon.sock", "Unix socket to serve on")
	flag.StringVar(&controlDir, "control", "/.runtools/ctl", "read-only directory the host writes its token and wake-ups to")
	flag.Uint64Var(&maxProcesses, "max-processes", 0, "RLIMIT_NPROC for the commands it runs (0: inherited)")
	root := flag.String("serve-root", "", "host mode: serve file operations confined to this directory (hostroot.go)")
	flag.Parse()
	if *root != "" {
		serveRoot(*root, *socket)
	}
	rand.Seed(time.Now().UnixNano())
	prewarmThreads(8)
	startReaper()
	socketPath = *socket
	loadToken()
	if err := listen(); err != nil {
		fmt.Fprintf(os.Stderr, "runtools-daemon: %v\n", err)
		os.Exit(1)
	}
	select {}
}
