package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

type winsize struct {
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

func ioctl(fd uintptr, request uintptr, arg uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, request, arg); errno != 0 {
		return errno
	}
	return nil
}

// openPty opens a pseudo-terminal pair the Unix98 way (what posix_openpt, unlockpt and ptsname do).
func openPty(size winsize) (*os.File, *os.File, error) {
	path := "/dev/ptmx"
	if _, err := os.Stat(path); err != nil {
		path = "/dev/pts/ptmx"
	}
	master, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if err := ioctl(master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		master.Close()
		return nil, nil, err
	}
	var n uint32
	if err := ioctl(master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	if size.Cols == 0 || size.Rows == 0 {
		size = winsize{Cols: 80, Rows: 24}
	}
	_ = setWinsize(master, size)
	return master, slave, nil
}

func setWinsize(f *os.File, size winsize) error {
	if size.Cols == 0 || size.Rows == 0 {
		return nil
	}
	ws := [4]uint16{size.Rows, size.Cols, 0, 0}
	return ioctl(f.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
}

func jsonUnmarshal(data []byte, value any) error { return json.Unmarshal(data, value) }
