package main

// The wire protocol between the control plane and this daemon: one Unix socket connection carries many
// streams. Every frame is a 4-byte big-endian length (of what follows), a 4-byte stream id chosen by the
// host, a 1-byte type and the payload. A stream starts with an open frame (JSON naming the operation) and
// ends with an end frame (JSON result) from the daemon; a cancel from the host ends it early. The one
// exception is connect: it is the first and only stream of its connection, which after a "connected" event
// carries the TCP bytes unframed.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"sync"
)

const (
	// Host to daemon.
	frameOpen    = 1 // JSON request
	frameIn      = 2 // bytes: process stdin, file content, socket data
	frameInEnd   = 3 // no more frameIn
	frameControl = 4 // JSON: {"signal": "TERM"} or {"resize": {"cols": 80, "rows": 24}}
	frameCancel  = 5 // stop the stream (kills a foreground process)

	// Daemon to host.
	frameOut   = 16 // bytes: stdout, file content, socket data
	frameErr   = 17 // bytes: stderr
	frameEvent = 18 // JSON: {"type": "started", "pid": 12}, watch events
	frameEnd   = 19 // JSON result; the stream is over
	frameHello = 20 // JSON {"token": "..."} on stream 0, the first frame of every connection (see hello.go)

	maxFrame  = 1 << 20
	chunkSize = 64 << 10
)

type frame struct {
	stream  uint32
	kind    byte
	payload []byte
}

func readFrame(r *bufio.Reader) (frame, error) {
	var header [9]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return frame{}, err
	}
	length := binary.BigEndian.Uint32(header[0:4])
	if length < 5 || length > maxFrame+5 {
		return frame{}, errors.New("frame length out of range")
	}
	payload := make([]byte, length-5)
	if _, err := io.ReadFull(r, payload); err != nil {
		return frame{}, err
	}
	return frame{stream: binary.BigEndian.Uint32(header[4:8]), kind: header[8], payload: payload}, nil
}

// conn serialises writes from every stream onto the socket.
type conn struct {
	mu     sync.Mutex
	w      *bufio.Writer
	raw    io.Writer
	closed bool
}

func (c *conn) send(stream uint32, kind byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("connection closed")
	}
	for {
		part := payload
		if len(part) > maxFrame {
			part = payload[:maxFrame]
		}
		var header [9]byte
		binary.BigEndian.PutUint32(header[0:4], uint32(len(part)+5))
		binary.BigEndian.PutUint32(header[4:8], stream)
		header[8] = kind
		if _, err := c.w.Write(header[:]); err != nil {
			c.closed = true
			return err
		}
		if _, err := c.w.Write(part); err != nil {
			c.closed = true
			return err
		}
		payload = payload[len(part):]
		if len(payload) == 0 {
			break
		}
	}
	if err := c.w.Flush(); err != nil {
		c.closed = true
		return err
	}
	return nil
}

func (c *conn) sendJSON(stream uint32, kind byte, value any) error {
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return c.send(stream, kind, data)
}

// failure is the error shape of an end frame: a machine-readable code and a message.
type failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorResult struct {
	Error failure `json:"error"`
}
