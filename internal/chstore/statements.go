package chstore

import (
	"context"
	"sync"
)

// StatementLog collects the SQL a Store runs for requests whose context
// carries it (see WithStatementLog). The benchmarks use it to time the same
// statements on the engine alone; nothing else needs it.
type StatementLog struct {
	mu    sync.Mutex
	stmts []string
}

type statementLogKey struct{}

// WithStatementLog returns a context under which every statement the Store
// runs is appended to log.
func WithStatementLog(ctx context.Context, log *StatementLog) context.Context {
	return context.WithValue(ctx, statementLogKey{}, log)
}

// Statements returns the statements collected so far, in order.
func (l *StatementLog) Statements() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.stmts...)
}

func logStatement(ctx context.Context, sql sqlText) {
	if l, ok := ctx.Value(statementLogKey{}).(*StatementLog); ok {
		l.mu.Lock()
		l.stmts = append(l.stmts, string(sql))
		l.mu.Unlock()
	}
}
