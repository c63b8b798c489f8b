package main

// Checkpointing a gVisor sandbox fails while it holds a socket bound or connected on the host ("Cannot save
// endpoint with bound host socket"), and the daemon's channel is exactly that. So before a checkpoint the
// host asks the daemon to quiesce: it answers, closes its listener and every connection, and waits, polling
// until the host writes a new value to the resume file of the read-only control directory (/.runtools/ctl)
// once the checkpoint is taken (the sandbox kept running) or restored (a new sandbox from the image). Then it
// re-reads its token and listens again, and the host reconnects. The only file the daemon writes is its
// quiesced marker beside its socket; the host never writes where the sandbox can.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var (
	listenMu   sync.Mutex
	listener   net.Listener
	socketPath string
	sessionsMu sync.Mutex
	sessions   = map[*session]net.Conn{}
)

func listen() error {
	listenMu.Lock()
	defer listenMu.Unlock()
	_ = os.Remove(socketPath)
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return err
	}
	_ = os.Chmod(socketPath, 0o600)
	listener = l
	go func() {
		for {
			raw, err := l.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return // closed: quiescing
			}
			go serve(raw)
		}
	}()
	return nil
}

func resumeFile() string { return filepath.Join(controlDir, "resume") }

func resumeValue() string {
	data, err := os.ReadFile(resumeFile())
	if err != nil {
		return ""
	}
	return string(data)
}

func quiescedFile() string { return filepath.Join(filepath.Dir(socketPath), "quiesced") }

// quiesce closes the listener at once, answers, then closes every connection; when none is left it writes
// the quiesced file, which is what the host waits for before it checkpoints.
func quiesce(s *stream) {
	seen := resumeValue()
	_ = os.Remove(quiescedFile())
	listenMu.Lock()
	if listener != nil {
		_ = listener.Close()
		listener = nil
	}
	listenMu.Unlock()
	_ = os.Remove(socketPath)
	s.end(map[string]any{"quiesced": true})
	go func() {
		// Let the answer reach the host before the connections go.
		time.Sleep(10 * time.Millisecond)
		sessionsMu.Lock()
		for _, raw := range sessions {
			_ = raw.Close()
		}
		sessionsMu.Unlock()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			sessionsMu.Lock()
			left := len(sessions)
			sessionsMu.Unlock()
			if left == 0 {
				break
			}
		}
		_ = os.WriteFile(quiescedFile(), nil, 0o600)
		for {
			time.Sleep(20 * time.Millisecond)
			if value := resumeValue(); value != "" && value != seen {
				loadToken()
				_ = os.Remove(quiescedFile())
				if err := listen(); err != nil {
					fmt.Fprintf(os.Stderr, "runtools-daemon: listen again: %v\n", err)
					continue
				}
				return
			}
		}
	}()
}
