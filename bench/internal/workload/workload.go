// Package workload generates a seeded, realistic stream of AgentPulse
// events for the benchmarks: sessions of 5 to 200 events from users whose
// activity follows a Zipf law, with messages, LLM calls with token counts,
// tool calls, cache hits, outcomes, payments and feedback. Event ids are
// UUIDv7 built from each event's time, as the Python SDK makes them.
//
// The same Config gives the same events, in the same order, on every run.
package workload

import (
	"container/heap"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Config shapes a workload.
type Config struct {
	Seed    uint64
	Product string
	// Users is the number of distinct users; session owners are drawn from
	// a Zipf law over them (a few users have most sessions).
	Users int
	// ZipfS is the Zipf exponent, > 1.
	ZipfS float64
	// Sessions start between From and To, in time order.
	From, To time.Time
	// MeanEvents is the expected number of events per session, used to
	// space session starts so that a budget of events spans [From, To).
	// Lengths are log-uniform between MinEvents and MaxEvents.
	MinEvents, MaxEvents int
	// Events is the total the caller intends to take; it only spaces the
	// session starts: past it, sessions start after To.
	Events int
	// LongContentRate is the fraction of message bodies with long content
	// (4 to 24 KiB).
	LongContentRate float64
}

// DefaultConfig is the benchmark's workload for n events of product,
// ending at end (sessions start over the 28 days before it).
func DefaultConfig(product string, n int, end time.Time, seed uint64) Config {
	end = end.UTC().Truncate(time.Hour)
	return Config{
		Seed:            seed,
		Product:         product,
		Users:           max(n/40, 100),
		ZipfS:           1.2,
		From:            end.Add(-28 * 24 * time.Hour),
		To:              end,
		MinEvents:       5,
		MaxEvents:       200,
		Events:          n,
		LongContentRate: 0.01,
	}
}

// MeanLength is the expected length of a log-uniform session length.
func (c Config) MeanLength() float64 {
	a, b := float64(c.MinEvents), float64(c.MaxEvents)
	if b <= a {
		return a
	}
	return (b - a) / math.Log(b/a)
}

// Event is one event as the HTTP API takes it.
type Event struct {
	EventID    string
	SessionID  string
	EventType  string
	Timestamp  time.Time // millisecond precision, UTC
	UserID     string
	ProductID  string
	Metadata   map[string]any
	Properties map[string]any
}

// Session is one generated conversation.
type Session struct {
	ID     string
	UserID string
	Events []Event // in time order
}

// Stream yields the events of successive sessions merged in time order,
// as they would arrive from many concurrent conversations.
type Stream struct {
	cfg      Config
	rng      *rand.Rand
	zipf     *rand.Zipf
	meanGap  float64 // milliseconds between session starts
	nextAt   time.Time
	active   sessionHeap
	sessions int
}

// NewStream starts a stream.
func NewStream(cfg Config) *Stream {
	if cfg.MinEvents < 1 {
		cfg.MinEvents = 1
	}
	if cfg.MaxEvents < cfg.MinEvents {
		cfg.MaxEvents = cfg.MinEvents
	}
	if cfg.Users < 1 {
		cfg.Users = 1
	}
	if cfg.ZipfS <= 1 {
		cfg.ZipfS = 1.2
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	sessions := max(float64(cfg.Events)/cfg.MeanLength(), 1)
	return &Stream{
		cfg:     cfg,
		rng:     rng,
		zipf:    rand.NewZipf(rng, cfg.ZipfS, 1, uint64(cfg.Users-1)),
		meanGap: float64(cfg.To.Sub(cfg.From).Milliseconds()) / sessions,
		nextAt:  cfg.From,
	}
}

// Sessions is the number of sessions started so far.
func (s *Stream) Sessions() int { return s.sessions }

// Next returns the next event in time order.
func (s *Stream) Next() Event {
	// Start every session that begins before the earliest pending event.
	for len(s.active) == 0 || !s.nextAt.After(s.active[0].events[s.active[0].pos].Timestamp) {
		sess := s.session(s.nextAt)
		heap.Push(&s.active, &pending{events: sess.Events})
		gap := s.rng.ExpFloat64() * s.meanGap
		s.nextAt = s.nextAt.Add(time.Duration(gap) * time.Millisecond)
	}
	p := s.active[0]
	e := p.events[p.pos]
	p.pos++
	if p.pos == len(p.events) {
		heap.Pop(&s.active)
	} else {
		heap.Fix(&s.active, 0)
	}
	return e
}

// Take returns the next n events.
func (s *Stream) Take(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

type pending struct {
	events []Event
	pos    int
}

type sessionHeap []*pending

func (h sessionHeap) Len() int { return len(h) }
func (h sessionHeap) Less(i, j int) bool {
	a, b := h[i].events[h[i].pos], h[j].events[h[j].pos]
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	return a.EventID < b.EventID
}
func (h sessionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sessionHeap) Push(x any)   { *h = append(*h, x.(*pending)) }
func (h *sessionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// The vocabulary of the generated conversations.
var (
	channels = []weighted{{"web", 50}, {"whatsapp", 25}, {"telegram", 10}, {"slack", 10}, {"api", 5}}
	plans    = []weighted{{"free", 70}, {"pro", 25}, {"team", 5}}
	topics   = []weighted{
		{"billing", 18}, {"onboarding", 14}, {"contracts", 12}, {"refunds", 9}, {"integrations", 8},
		{"reporting", 7}, {"security", 5}, {"pricing", 5}, {"shipping", 4}, {"hr", 3}, {"legal", 3}, {"other", 2},
	}
	models = []weighted{
		{"gpt-4o-mini", 30}, {"gpt-4o", 15}, {"gpt-5-mini", 12}, {"claude-sonnet-4-5", 15},
		{"claude-3-5-haiku", 8}, {"gemini-2.5-flash", 10}, {"o4-mini", 5}, {"acme-internal-7b", 5},
	}
	providers = map[string]string{
		"gpt-4o-mini": "openai", "gpt-4o": "openai", "gpt-5-mini": "openai", "o4-mini": "openai",
		"claude-sonnet-4-5": "anthropic", "claude-3-5-haiku": "anthropic", "gemini-2.5-flash": "google",
		"acme-internal-7b": "self-hosted",
	}
	tools      = []weighted{{"web_search", 30}, {"retrieve_docs", 30}, {"run_sql", 15}, {"send_email", 10}, {"calendar", 10}, {"pdf_export", 5}}
	currencies = []weighted{{"USD", 70}, {"EUR", 15}, {"BRL", 10}, {"GBP", 5}}
	words      = strings.Fields("the a to my invoice order contract account please help why when can you " +
		"refund plan upgrade report export data team access password error payment card tax " +
		"shipping delivery policy clause notice employee salary meeting schedule summary draft")
)

type weighted struct {
	v string
	w int
}

func (s *Stream) pick(ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := s.rng.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.v
		}
		n -= w.w
	}
	return ws[len(ws)-1].v
}

// session generates one session starting at start.
func (s *Stream) session(start time.Time) Session {
	s.sessions++
	r := s.rng
	user := fmt.Sprintf("user_%07d", s.zipf.Uint64())
	sess := Session{ID: "sess_" + s.hex(16), UserID: user}

	a, b := float64(s.cfg.MinEvents), float64(s.cfg.MaxEvents)
	n := int(math.Round(math.Exp(math.Log(a) + r.Float64()*(math.Log(b)-math.Log(a)))))
	n = min(max(n, s.cfg.MinEvents), s.cfg.MaxEvents)

	// The outcome events at the end of the session.
	var tail []func(t time.Time) Event
	paid := r.Float64() < 0.08
	if r.Float64() < 0.3 {
		tail = append(tail, s.outcome("outcome.artifact", map[string]any{"kind": "document"}))
	}
	switch x := r.Float64(); {
	case x < 0.05:
		tail = append(tail, s.outcome("outcome.handoff", map[string]any{"to": "human"}))
	case x < 0.08:
		tail = append(tail, s.outcome("outcome.error", map[string]any{"error": "upstream timeout"}))
	case x < 0.18 && !paid:
		tail = append(tail, s.outcome("outcome.abandon", nil))
	}
	if paid {
		cur := s.pick(currencies)
		amount := math.Round((5+r.Float64()*95)*100) / 100
		tail = append(tail, s.outcome("outcome.payment", map[string]any{"amount": amount, "currency": cur}))
	}
	if r.Float64() < 0.15 {
		v, score := "thumbs_up", 1.0
		if r.Float64() < 0.3 {
			v, score = "thumbs_down", 0.0
		}
		tail = append(tail, s.outcome("feedback.explicit", map[string]any{"value": v, "score": score}))
	}
	if r.Float64() < 0.6 {
		reason := "user_left"
		if paid {
			reason = "converted"
		}
		tail = append(tail, s.outcome("session.end", map[string]any{"reason": reason}))
	}
	if len(tail) > n-2 {
		tail = tail[:n-2]
	}

	meta := map[string]any{"channel": s.pick(channels), "plan": s.pick(plans)}
	if r.Float64() < 0.7 {
		meta["topic"] = s.pick(topics)
	}

	t := start.UTC().Truncate(time.Millisecond)
	events := make([]Event, 0, n)
	add := func(typ string, props map[string]any, gap time.Duration) {
		t = t.Add(gap).Truncate(time.Millisecond)
		events = append(events, Event{
			EventID: s.uuid7(t), SessionID: sess.ID, EventType: typ, Timestamp: t,
			UserID: user, ProductID: s.cfg.Product, Properties: props,
		})
	}
	body := n - len(tail)
	for len(events) < body {
		add("message.user", s.message(), s.gap(10*time.Second, 240*time.Second))
		if len(events) == 1 {
			events[0].Metadata = meta
		}
		for range 1 + r.IntN(3) {
			if len(events) >= body-1 {
				break
			}
			switch x := r.Float64(); {
			case x < 0.6:
				add("action.llm_call", s.llmCall(), s.gap(200*time.Millisecond, 3*time.Second))
			case x < 0.9:
				add("action.tool_call", s.toolCall(), s.gap(100*time.Millisecond, 2*time.Second))
			default:
				add("action.cache_hit", map[string]any{
					"cache_name": "semantic_cache", "saved_cost_usd": math.Round(r.Float64()*200) / 10000,
				}, s.gap(10*time.Millisecond, 200*time.Millisecond))
			}
		}
		if len(events) < body {
			add("message.agent", s.message(), s.gap(500*time.Millisecond, 20*time.Second))
		}
	}
	for _, f := range tail {
		t = t.Add(s.gap(time.Second, 30*time.Second)).Truncate(time.Millisecond)
		e := f(t)
		e.SessionID, e.UserID, e.ProductID = sess.ID, user, s.cfg.Product
		events = append(events, e)
	}
	sess.Events = events
	return sess
}

func (s *Stream) outcome(typ string, props map[string]any) func(time.Time) Event {
	return func(t time.Time) Event {
		return Event{EventID: s.uuid7(t), EventType: typ, Timestamp: t, Properties: props}
	}
}

func (s *Stream) gap(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

func (s *Stream) message() map[string]any {
	r := s.rng
	size := 20 + r.IntN(300)
	if r.Float64() < s.cfg.LongContentRate {
		size = 4096 + r.IntN(20*1024)
	}
	var b strings.Builder
	b.Grow(size + 16)
	for b.Len() < size {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return map[string]any{"content": b.String(), "content_length": int64(b.Len())}
}

func (s *Stream) llmCall() map[string]any {
	r := s.rng
	model := s.pick(models)
	in := int64(200 + r.IntN(8000))
	out := int64(50 + r.IntN(1500))
	p := map[string]any{
		"model": model, "provider": providers[model],
		"input_tokens": in, "output_tokens": out,
		"duration_ms": int64(300 + r.IntN(6000)), "status": "ok",
	}
	if r.Float64() < 0.4 {
		p["cached_input_tokens"] = in / int64(2+r.IntN(4))
	}
	if r.Float64() < 0.02 {
		p["status"], p["error"] = "error", "rate_limited"
	}
	return p
}

func (s *Stream) toolCall() map[string]any {
	r := s.rng
	p := map[string]any{"tool_name": s.pick(tools), "duration_ms": int64(20 + r.IntN(2000)), "status": "ok"}
	if r.Float64() < 0.3 {
		p["cost_usd"] = math.Round(r.Float64()*100) / 10000
	}
	return p
}

func (s *Stream) hex(n int) string {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], s.rng.Uint64())
		copy(b[i:], w[:])
	}
	return hex.EncodeToString(b)
}

// uuid7 is a version 7 UUID for time t: 48 bits of Unix milliseconds, then
// random bits, as the SDK's event ids.
func (s *Stream) uuid7(t time.Time) string {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|uint64(s.rng.Uint32()&0x0fff)|0x7000)
	binary.BigEndian.PutUint64(u[8:16], s.rng.Uint64()&0x3fffffffffffffff|0x8000000000000000)
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], u[10:16])
	return string(buf[:])
}
