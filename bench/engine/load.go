package main

import (
	"context"
	"flag"
	"time"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
	"github.com/agentpulse/agentpulse/internal/event"
)

type loadResult struct {
	Events       int     `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	// The refresh of session summaries after the last insert.
	FinalRefreshSeconds float64 `json:"final_refresh_seconds"`
}

// load bulk-loads the query datasets: events -skip .. -skip+-events of the
// workload of -total events, processed by the agentpulse processor in
// requests of -request events and written with the store's Insert in
// batches of -batch (the exporter's largest batch), so the rows are the
// ones the collector would store.
func load(ctx context.Context, args []string) (any, error) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dir := fs.String("dir", "", "data directory of the collector")
	events := fs.Int("events", 1000000, "events to load")
	skip := fs.Int("skip", 0, "events of the workload to skip (loaded before)")
	total := fs.Int("total", 0, "events of the whole workload (spaces the sessions; default -skip + -events)")
	request := fs.Int("request", 1000, "events per processed request")
	batch := fs.Int("batch", 10000, "events per INSERT")
	seed := fs.Uint64("seed", 1, "workload seed")
	endFlag := fs.String("end", "", "end of the workload period (RFC3339; default now)")
	_ = fs.Parse(args)
	if *dir == "" {
		return nil, errUsage
	}
	if *total == 0 {
		*total = *skip + *events
	}
	end, err := parseEnd(*endFlag)
	if err != nil {
		return nil, err
	}
	s, _, err := openStore(ctx, *dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	pipe, err := newPipeline(ctx)
	if err != nil {
		return nil, err
	}
	defer pipe.close(ctx)

	stream := workload.NewStream(workload.DefaultConfig("bench", *total, end, *seed))
	for range *skip {
		stream.Next()
	}

	start := time.Now()
	batches := make(chan []event.Event, 2)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		var pending []event.Event
		for n := 0; n < *events; n += *request {
			processed, err := pipe.process(ctx, stream.Take(min(*request, *events-n)))
			if err != nil {
				errc <- err
				return
			}
			pending = append(pending, processed...)
			if len(pending) >= *batch {
				batches <- pending
				pending = nil
			}
		}
		if len(pending) > 0 {
			batches <- pending
		}
	}()
	loaded := 0
	for b := range batches {
		if err := s.Insert(ctx, b); err != nil {
			return nil, err
		}
		loaded += len(b)
	}
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	secs := since(start)
	// Summaries of the last events, as the store's refresher would make
	// them a second later.
	refreshStart := time.Now()
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return loadResult{Events: loaded, Seconds: secs, EventsPerSec: float64(loaded) / secs,
		FinalRefreshSeconds: since(refreshStart)}, nil
}
