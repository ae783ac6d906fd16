package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chdb-io/chdb-go/chdb"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/chstore"
)

// queryTiming is one endpoint's latencies in milliseconds: through the
// store's Go API in this process, and its SQL alone on the engine.
type queryTiming struct {
	Statements int       `json:"statements"`
	StoreMS    []float64 `json:"store_ms"`
	RawMS      []float64 `json:"raw_ms"`
}

// rawQueries times the SQL of each query endpoint straight on the engine
// (baseline c), and the store's Go method that builds and scans it.
func rawQueries(ctx context.Context, args []string) (any, error) {
	fs := flag.NewFlagSet("rawqueries", flag.ExitOnError)
	dir := fs.String("dir", "", "data directory of the collector")
	runs := fs.Int("runs", 20, "timed runs per endpoint, after one warm-up")
	nowFlag := fs.String("now", "", "the request time (RFC3339; default now)")
	ids := fs.String("sessions", "", "comma-separated session ids for the detail (default: -pick of them)")
	pick := fs.Int("pick", 20, "session ids to pick for the detail when -sessions is empty")
	product := fs.String("product", "bench", "product")
	_ = fs.Parse(args)
	if *dir == "" {
		return nil, errUsage
	}
	now, err := parseEnd(*nowFlag)
	if err != nil {
		return nil, err
	}
	s, sess, err := openStore(ctx, *dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// As the collector's refresher does within a second of starting.
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}

	// What the query API passes for a request without parameters.
	f := analytics.Filter{ProductID: *product, From: now.Add(-30 * 24 * time.Hour), To: now}
	opts := analytics.Options{Stages: analytics.DefaultStages(), SessionTimeout: 30 * time.Minute, Now: now}
	var sessionIDs []string
	if *ids != "" {
		sessionIDs = strings.Split(*ids, ",")
	} else if sessionIDs, err = pickSessions(sess, *product, *pick); err != nil {
		return nil, err
	}
	detail := 0

	calls := map[string]func(context.Context) error{
		"funnel": func(ctx context.Context) error {
			_, err := s.Funnel(ctx, f, opts)
			return err
		},
		"economics": func(ctx context.Context) error {
			_, err := s.Economics(ctx, f, opts)
			return err
		},
		"topics": func(ctx context.Context) error {
			_, err := s.Topics(ctx, f, opts, 20)
			return err
		},
		"sessions": func(ctx context.Context) error {
			_, _, err := s.Sessions(ctx, f, opts, 50, 0)
			return err
		},
		"session": func(ctx context.Context) error {
			id := sessionIDs[detail%len(sessionIDs)]
			detail++
			_, _, found, err := s.Session(ctx, *product, id, opts)
			if err == nil && !found {
				err = fmt.Errorf("session %q not found", id)
			}
			return err
		},
	}
	out := map[string]any{"session_ids": sessionIDs}
	for name, call := range calls {
		if name == "session" && len(sessionIDs) == 0 {
			continue
		}
		t := &queryTiming{}
		// Warm-up through the store, then the store's timings.
		if err := call(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		// Each run: the store's method, then the statements it ran, straight
		// on the engine, so both see the same machine load.
		for range *runs {
			var log chstore.StatementLog
			start := time.Now()
			if err := call(chstore.WithStatementLog(ctx, &log)); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			t.StoreMS = append(t.StoreMS, ms(time.Since(start)))
			stmts := log.Statements()
			t.Statements = len(stmts)
			start = time.Now()
			for _, sql := range stmts {
				if _, err := run(sess, sql); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
			t.RawMS = append(t.RawMS, ms(time.Since(start)))
		}
		sort.Float64s(t.StoreMS)
		sort.Float64s(t.RawMS)
		out[name] = t
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pickSessions chooses n session ids of the product, spread over its
// history, the same ones on every run.
func pickSessions(sess *chdb.Session, product string, n int) ([]string, error) {
	out, err := run(sess, fmt.Sprintf("SELECT session_id FROM agentpulse.events WHERE product_id = %s "+
		"GROUP BY session_id ORDER BY cityHash64(session_id) LIMIT %d", quote(product), n))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, row := range jsonRows(out) {
		var id string
		if len(row) == 1 && json.Unmarshal(row[0], &id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
