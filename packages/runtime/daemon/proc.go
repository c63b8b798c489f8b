package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	logLimit      = 1 << 20 // output kept per process for attach/reconnect
	keepExited    = 64      // finished background processes kept for wait and logs
	drainGraceful = 100 * time.Millisecond
)

type chunk struct {
	kind   byte
	data   []byte
	offset int64 // of the chunk's first byte in the process's combined output
}

type proc struct {
	pid        int
	argv       []string
	background bool
	startedAt  time.Time

	mu        sync.Mutex
	log       []chunk
	logBytes  int
	written   int64
	subs      map[chan chunk]struct{}
	exited    bool
	exitCode  int
	signal    string
	timedOut  bool
	endedAt   time.Time
	exitedCh  chan struct{}
	readers   sync.WaitGroup
	done      chan struct{} // exited and output drained (or the grace period passed)
	stdin     *os.File
	stdinQ    chan []byte
	stdinOnce sync.Once
	pty       *os.File
	outputs   []*os.File // read ends of stdout/stderr (or the PTY master)
	inflight  int32      // chunks read but not yet in the log
}

var (
	procsMu sync.Mutex
	procs   = map[int]*proc{}
	exited  []int // finished background processes, oldest first
)

// startReaper reaps every child, ours and orphans re-parented to us (we are the sandbox's first process).
func startReaper() {
	signals := make(chan os.Signal, 64)
	signal.Notify(signals, syscall.SIGCHLD)
	go func() {
		for range signals {
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if err == syscall.EINTR {
					continue
				}
				if pid <= 0 || err != nil {
					break
				}
				procsMu.Lock()
				p := procs[pid]
				procsMu.Unlock()
				if p != nil {
					p.setExited(status)
				}
			}
		}
	}()
}

func (p *proc) setExited(status syscall.WaitStatus) {
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return
	}
	p.exited = true
	p.endedAt = time.Now()
	if status.Signaled() {
		p.exitCode = 128 + int(status.Signal())
		p.signal = signalName(status.Signal())
	} else {
		p.exitCode = status.ExitStatus()
	}
	p.mu.Unlock()
	close(p.exitedCh)
	go func() {
		drained := make(chan struct{})
		go func() { p.readers.Wait(); close(drained) }()
		// A command that leaves a background process holding its output (`server &`) is answered once its
		// pipes have been quiet for a moment after it exits: nothing unread in them and nothing being handed
		// over. Output that follows still reaches the process's log. (A fixed grace would cut off the output
		// of a command whose readers were slow to run on a busy machine.)
		ticker := time.NewTicker(drainGraceful / 5)
		defer ticker.Stop()
		var quietSince time.Time
	wait:
		for {
			select {
			case <-drained:
				break wait
			case now := <-ticker.C:
				if !p.quiet() {
					quietSince = time.Time{}
				} else if quietSince.IsZero() {
					quietSince = now
				} else if now.Sub(quietSince) >= drainGraceful {
					break wait
				}
			}
		}
		p.closeStdin()
		close(p.done)
		if p.background {
			procsMu.Lock()
			exited = append(exited, p.pid)
			for len(exited) > keepExited {
				delete(procs, exited[0])
				exited = exited[1:]
			}
			procsMu.Unlock()
		} else {
			procsMu.Lock()
			if procs[p.pid] == p {
				delete(procs, p.pid)
			}
			procsMu.Unlock()
		}
	}()
}

func (p *proc) emit(kind byte, data []byte) {
	p.mu.Lock()
	c := chunk{kind: kind, data: data, offset: p.written}
	p.written += int64(len(data))
	p.log = append(p.log, c)
	p.logBytes += len(data)
	for p.logBytes > logLimit && len(p.log) > 1 {
		p.logBytes -= len(p.log[0].data)
		p.log = p.log[1:]
	}
	subs := make([]chan chunk, 0, len(p.subs))
	for sub := range p.subs {
		subs = append(subs, sub)
	}
	p.mu.Unlock()
	for _, sub := range subs {
		// Back-pressure: a reader that keeps up is never dropped; one whose stream ended is unsubscribed.
		func() {
			defer func() { _ = recover() }()
			sub <- c
		}()
	}
}

// subscribe returns what is logged from `since` on and a channel for what follows.
func (p *proc) subscribe(since int64) ([]chunk, chan chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var backlog []chunk
	for _, c := range p.log {
		end := c.offset + int64(len(c.data))
		if end <= since {
			continue
		}
		if c.offset < since {
			c = chunk{kind: c.kind, data: c.data[since-c.offset:], offset: since}
		}
		backlog = append(backlog, c)
	}
	sub := make(chan chunk, 64)
	if p.subs == nil {
		p.subs = map[chan chunk]struct{}{}
	}
	p.subs[sub] = struct{}{}
	return backlog, sub
}

func (p *proc) unsubscribe(sub chan chunk) {
	p.mu.Lock()
	delete(p.subs, sub)
	p.mu.Unlock()
	close(sub)
}

// quiet says whether no output is waiting in the process's pipes or on its way to the log.
func (p *proc) quiet() bool {
	if atomic.LoadInt32(&p.inflight) > 0 {
		return false
	}
	for _, f := range p.outputs {
		raw, err := f.SyscallConn()
		if err != nil {
			continue
		}
		pending := 0
		_ = raw.Control(func(fd uintptr) {
			_ = ioctl(fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&pending)))
		})
		if pending > 0 {
			return false
		}
	}
	return true
}

func (p *proc) readFrom(kind byte, f *os.File) {
	defer p.readers.Done()
	defer f.Close()
	for {
		buf := make([]byte, chunkSize)
		n, err := f.Read(buf)
		if n > 0 {
			atomic.AddInt32(&p.inflight, 1)
			p.emit(kind, buf[:n])
			atomic.AddInt32(&p.inflight, -1)
		}
		if err != nil {
			return
		}
	}
}

func (p *proc) writeStdin(data []byte) {
	if p.stdinQ == nil {
		return
	}
	defer func() { _ = recover() }()
	p.stdinQ <- data
}

func (p *proc) closeStdin() {
	p.stdinOnce.Do(func() {
		if p.stdinQ != nil {
			close(p.stdinQ)
		}
	})
}

func (p *proc) kill(sig syscall.Signal) {
	// The whole process group: the shell and whatever it started.
	if err := syscall.Kill(-p.pid, sig); err != nil {
		_ = syscall.Kill(p.pid, sig)
	}
}

func (p *proc) result() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	result := map[string]any{"pid": p.pid, "exitCode": p.exitCode, "timedOut": p.timedOut}
	if p.signal != "" {
		result["signal"] = p.signal
	}
	return result
}

func mergedEnv(extra map[string]string) []string {
	env := map[string]string{}
	for _, entry := range os.Environ() {
		if i := strings.IndexByte(entry, '='); i > 0 {
			env[entry[:i]] = entry[i+1:]
		}
	}
	for name, value := range extra {
		env[name] = value
	}
	list := make([]string, 0, len(env))
	for name, value := range env {
		list = append(list, name+"="+value)
	}
	sort.Strings(list)
	return list
}

func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, entry := range env {
		if strings.HasPrefix(entry, "PATH=") {
			path = entry[5:]
		}
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", syscall.ENOENT
}

// start runs argv as a new process group (or session, with a PTY) and registers it before the reaper can
// see it exit.
func start(req request) (*proc, *failure) {
	if len(req.Argv) == 0 {
		return nil, &failure{Code: "invalid", Message: "argv is empty"}
	}
	env := mergedEnv(req.Env)
	program, err := lookPath(req.Argv[0], env)
	if err != nil {
		return nil, &failure{Code: "command_not_found", Message: req.Argv[0] + ": command not found"}
	}
	cwd := req.Cwd
	if cwd == "" {
		// The sandbox's working directory (its template's), where the daemon was started.
		cwd, _ = os.Getwd()
		if cwd == "" {
			cwd = "/"
		}
	}
	if info, err := os.Stat(cwd); err != nil || !info.IsDir() {
		return nil, &failure{Code: "invalid_cwd", Message: "working directory " + cwd + " does not exist"}
	}
	p := &proc{argv: req.Argv, background: req.Background, startedAt: time.Now(), exitedCh: make(chan struct{}), done: make(chan struct{})}
	attr := &syscall.ProcAttr{Dir: cwd, Env: env, Sys: &syscall.SysProcAttr{}}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, &failure{Code: "io", Message: err.Error()}
	}
	var outputs []struct {
		kind byte
		f    *os.File
	}
	if req.Pty != nil {
		master, slave, err := openPty(*req.Pty)
		if err != nil {
			stdinR.Close()
			stdinW.Close()
			return nil, &failure{Code: "io", Message: "cannot open a pseudo-terminal: " + err.Error()}
		}
		stdinR.Close()
		stdinW.Close()
		toClose = append(toClose, slave)
		attr.Files = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
		attr.Sys.Setsid = true
		attr.Sys.Setctty = true
		attr.Sys.Ctty = 0
		p.pty = master
		p.stdin = master
		if !hasTerm(env) {
			attr.Env = append(attr.Env, "TERM=xterm-256color")
		}
		outputs = append(outputs, struct {
			kind byte
			f    *os.File
		}{frameOut, master})
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, &failure{Code: "io", Message: err.Error()}
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return nil, &failure{Code: "io", Message: err.Error()}
		}
		toClose = append(toClose, stdinR, outW, errW)
		attr.Files = []uintptr{stdinR.Fd(), outW.Fd(), errW.Fd()}
		attr.Sys.Setpgid = true
		p.stdin = stdinW
		outputs = append(outputs, struct {
			kind byte
			f    *os.File
		}{frameOut, outR}, struct {
			kind byte
			f    *os.File
		}{frameErr, errR})
	}
	for _, o := range outputs {
		p.outputs = append(p.outputs, o.f)
	}
	// Counted before the fork: the reaper may see the process exit before the readers start.
	p.readers.Add(len(outputs))
	procsMu.Lock()
	pid, err := forkWithLimit(program, req.Argv, attr)
	if err != nil {
		procsMu.Unlock()
		for _, o := range outputs {
			o.f.Close()
			p.readers.Done()
		}
		if p.stdin != nil && p.pty == nil {
			p.stdin.Close()
		}
		return nil, &failure{Code: "exec_failed", Message: req.Argv[0] + ": " + err.Error()}
	}
	p.pid = pid
	procs[pid] = p
	procsMu.Unlock()

	p.stdinQ = make(chan []byte, 256)
	go func(w *os.File, isPty bool) {
		for data := range p.stdinQ {
			if _, err := w.Write(data); err != nil {
				break
			}
		}
		if !isPty {
			w.Close()
		} else {
			// EOF on a terminal is ^D.
			_, _ = w.Write([]byte{4})
		}
		for range p.stdinQ {
		}
	}(p.stdin, p.pty != nil)
	for _, o := range outputs {
		go p.readFrom(o.kind, o.f)
	}
	if req.TimeoutMs > 0 {
		timer := time.AfterFunc(time.Duration(req.TimeoutMs)*time.Millisecond, func() {
			p.mu.Lock()
			alive := !p.exited
			if alive {
				p.timedOut = true
			}
			p.mu.Unlock()
			if alive {
				p.kill(syscall.SIGKILL)
			}
		})
		go func() { <-p.exitedCh; timer.Stop() }()
	}
	return p, nil
}

func hasTerm(env []string) bool {
	for _, entry := range env {
		if strings.HasPrefix(entry, "TERM=") {
			return true
		}
	}
	return false
}

// follow forwards a process's output to the stream from `since` and handles stdin, signals and resizes,
// until the process is done (true) or the stream is cancelled (false).
func follow(s *stream, p *proc, since int64) bool {
	backlog, sub := p.subscribe(since)
	defer p.unsubscribe(sub)
	for _, c := range backlog {
		if s.out(c.kind, c.data) != nil {
			return false
		}
	}
	for {
		select {
		case c := <-sub:
			if s.out(c.kind, c.data) != nil {
				return false
			}
		case <-p.done:
			for {
				select {
				case c := <-sub:
					if s.out(c.kind, c.data) != nil {
						return false
					}
				default:
					return true
				}
			}
		case f := <-s.input:
			switch f.kind {
			case frameIn:
				p.writeStdin(f.payload)
			case frameInEnd:
				p.closeStdin()
			case frameControl:
				applyControl(p, f.payload)
			}
		case <-s.cancelled:
			return false
		}
	}
}

func execForeground(s *stream, req request) {
	req.Background = false
	p, fail := start(req)
	if fail != nil {
		s.end(errorResult{Error: *fail})
		return
	}
	_ = s.event(map[string]any{"type": "started", "pid": p.pid})
	if follow(s, p, 0) {
		s.end(p.result())
		return
	}
	// The caller went away or cancelled: a foreground command does not outlive its caller.
	p.kill(syscall.SIGKILL)
	s.end(map[string]any{"pid": p.pid, "cancelled": true})
}

func spawnBackground(s *stream, req request) {
	req.Background = true
	p, fail := start(req)
	if fail != nil {
		s.end(errorResult{Error: *fail})
		return
	}
	s.end(map[string]any{"pid": p.pid})
}

func findProc(s *stream, pid int) *proc {
	procsMu.Lock()
	p := procs[pid]
	procsMu.Unlock()
	if p == nil || !p.background {
		s.fail("process_not_found", "no background process with pid %d", pid)
		return nil
	}
	return p
}

func attach(s *stream, req request) {
	p := findProc(s, req.Pid)
	if p == nil {
		return
	}
	_ = s.event(map[string]any{"type": "started", "pid": p.pid})
	if follow(s, p, req.Since) {
		s.end(p.result())
		return
	}
	s.end(map[string]any{"pid": p.pid, "detached": true})
}

func killProcess(s *stream, req request) {
	p := findProc(s, req.Pid)
	if p == nil {
		return
	}
	sig, ok := parseSignal(req.Signal)
	if !ok {
		s.fail("invalid", "unknown signal %q", req.Signal)
		return
	}
	p.kill(sig)
	s.end(map[string]any{"pid": p.pid})
}

func listProcesses(s *stream) {
	procsMu.Lock()
	list := make([]*proc, 0, len(procs))
	for _, p := range procs {
		if p.background {
			list = append(list, p)
		}
	}
	procsMu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].startedAt.Before(list[j].startedAt) })
	out := make([]map[string]any, 0, len(list))
	for _, p := range list {
		p.mu.Lock()
		entry := map[string]any{
			"pid": p.pid, "argv": p.argv, "running": !p.exited, "startedAt": p.startedAt.UTC().Format(time.RFC3339Nano),
			"outputBytes": p.written,
		}
		if p.exited {
			entry["exitCode"] = p.exitCode
			entry["endedAt"] = p.endedAt.UTC().Format(time.RFC3339Nano)
		}
		p.mu.Unlock()
		out = append(out, entry)
	}
	s.end(map[string]any{"processes": out})
}

func applyControl(p *proc, payload []byte) {
	var c control
	if jsonUnmarshal(payload, &c) != nil {
		return
	}
	if c.Signal != "" {
		if sig, ok := parseSignal(c.Signal); ok {
			p.kill(sig)
		}
	}
	if c.Resize != nil && p.pty != nil {
		_ = setWinsize(p.pty, *c.Resize)
	}
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "CONT": syscall.SIGCONT,
	"STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM,
}

func parseSignal(name string) (syscall.Signal, bool) {
	if name == "" {
		return syscall.SIGTERM, true
	}
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return sig, ok
}

func signalName(sig syscall.Signal) string {
	for name, value := range signals {
		if value == sig {
			return "SIG" + name
		}
	}
	return sig.String()
}

// writeStdin writes the stream's in-frames to a background process's stdin; an in-end with `eof` set closes
// it.
func stdinTo(s *stream, req request) {
	p := findProc(s, req.Pid)
	if p == nil {
		return
	}
	for {
		select {
		case f := <-s.input:
			switch f.kind {
			case frameIn:
				p.writeStdin(f.payload)
			case frameInEnd:
				if req.Append {
					p.closeStdin()
				}
				s.end(map[string]any{"pid": p.pid})
				return
			}
		case <-s.cancelled:
			s.end(map[string]any{"pid": p.pid, "cancelled": true})
			return
		}
	}
}

// maxProcesses is the RLIMIT_NPROC every command gets (0: what the daemon has).
var maxProcesses uint64

// forkWithLimit starts a command whose RLIMIT_NPROC soft limit is maxProcesses while the daemon's own stays
// unlimited: the limit is lowered only around the fork (the child inherits it) and restored at once. With
// the limit on the daemon itself, a fork bomb that reaches it would leave the Go runtime unable to start a
// thread, and the daemon, the sandbox's first process, would die with the sandbox. Called with procsMu held,
// which serialises it.
func forkWithLimit(program string, argv []string, attr *syscall.ProcAttr) (int, error) {
	if maxProcesses == 0 {
		return syscall.ForkExec(program, argv, attr)
	}
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(rlimitNproc, &saved); err != nil {
		return syscall.ForkExec(program, argv, attr)
	}
	limited := syscall.Rlimit{Cur: maxProcesses, Max: saved.Max}
	if limited.Cur > saved.Max {
		limited.Cur = saved.Max
	}
	_ = syscall.Setrlimit(rlimitNproc, &limited)
	pid, err := syscall.ForkExec(program, argv, attr)
	_ = syscall.Setrlimit(rlimitNproc, &saved)
	return pid, err
}

const rlimitNproc = 6 // RLIMIT_NPROC on Linux

// resizeProcess sets the terminal size of a background process started with a PTY.
func resizeProcess(s *stream, req request) {
	p := findProc(s, req.Pid)
	if p == nil {
		return
	}
	if p.pty == nil || req.Pty == nil {
		s.fail("invalid", "process %d has no terminal", p.pid)
		return
	}
	if err := setWinsize(p.pty, *req.Pty); err != nil {
		s.fail("io", "resize: %v", err)
		return
	}
	s.end(map[string]any{"pid": p.pid})
}
