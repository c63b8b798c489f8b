package main

// The host authenticates the daemon before it sends anything: every connection starts with a hello frame
// carrying this sandbox's token, which the host wrote into the control directory (bound read-only, so
// nothing in the sandbox can change it) and compares with its own copy. A host that was somehow pointed at
// another sandbox's socket gets that sandbox's token and hangs up. The token is re-read when the daemon
// wakes after a checkpoint: a sandbox restored from another's image (a branch) has its own.

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

var (
	controlDir string
	tokenMu    sync.Mutex
	token      string
)

func loadToken() {
	data, err := os.ReadFile(filepath.Join(controlDir, "token"))
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if err != nil {
		token = ""
		return
	}
	token = strings.TrimSpace(string(data))
}

func currentToken() string {
	tokenMu.Lock()
	defer tokenMu.Unlock()
	return token
}
