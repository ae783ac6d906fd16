package chstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No ClickHouse server can run in this test environment, so the server
// path is tested here without one: its errors are built as the driver
// builds them, and its options are checked as the driver receives them.

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{"server syntax error", &clickhouse.Exception{Code: 62, Name: "DB::Exception", Message: "Syntax error"}, true},
		{"server parse error", fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 27}), true},
		{"server type mismatch", &clickhouse.Exception{Code: 53}, true},
		{"server memory limit", &clickhouse.Exception{Code: 241, Message: "Memory limit exceeded"}, false},
		{"server too many parts", &clickhouse.Exception{Code: 252}, false},
		{"server unknown table", &clickhouse.Exception{Code: 60}, false},
		{"server authentication", &clickhouse.Exception{Code: 516}, false},
		{"embedded parse error", errors.New("Code: 27. DB::Exception: Cannot parse input"), true},
		{"embedded timeout", errors.New("Code: 159. DB::Exception: Timeout exceeded"), false},
		{"not a ClickHouse message", errors.New("Code 27 somewhere"), false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{"connection reset", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false},
		{"deadline", context.DeadlineExceeded, false},
		{"pool exhausted", clickhouse.ErrAcquireConnTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err)
			assert.Equal(t, tt.permanent, IsPermanent(err))
			assert.ErrorIs(t, err, tt.err, "the cause stays reachable")
		})
	}
	assert.NoError(t, classify(nil))
	assert.NoError(t, permanent(nil))
	assert.False(t, IsPermanent(nil))
	assert.True(t, IsPermanent(fmt.Errorf("wrapped: %w", permanent(errors.New("x")))))
}

func TestServerOptions(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Mode = ModeServer
	cfg.Endpoint = "ch.example.com:9440"
	cfg.Username = "writer"
	cfg.Password = "s3cret"
	cfg.Secure = true
	cfg.DialTimeout = 3 * time.Second

	opts := serverOptions(cfg)
	assert.Equal(t, clickhouse.Native, opts.Protocol)
	assert.Equal(t, []string{"ch.example.com:9440"}, opts.Addr)
	assert.Equal(t, "writer", opts.Auth.Username)
	assert.Equal(t, "s3cret", opts.Auth.Password)
	assert.Empty(t, opts.Auth.Database, "tables are named with their database, which may not exist yet")
	assert.Equal(t, 3*time.Second, opts.DialTimeout)
	require.NotNil(t, opts.TLS)

	cfg.Secure = false
	assert.Nil(t, serverOptions(cfg).TLS)
}

func TestOpenServerUnreachable(t *testing.T) {
	// A port that nothing listens on: Open fails with a retryable error
	// that names the endpoint.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cfg := NewDefaultConfig()
	cfg.Mode = ModeServer
	cfg.Path = ""
	cfg.Endpoint = addr
	cfg.DialTimeout = time.Second
	_, err = Open(t.Context(), cfg, nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, addr)
	assert.False(t, IsPermanent(err))
	registry.Lock()
	assert.Empty(t, registry.servers, "a failed open leaves nothing behind")
	registry.Unlock()
}
