package agentpulseprocessor

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/event"
)

var (
	t0      = time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC)
	wall    = time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)
	timeout = 30 * time.Minute
)

// wantID is the documented session id recipe, written out independently:
// "s_" and the first 16 bytes of SHA-256 over the product's length as a
// uvarint, the product, the user and the start in Unix milliseconds as a
// big-endian uint64, in hex.
func wantID(product, user string, start time.Time) string {
	var buf []byte
	buf = binary.AppendUvarint(buf, uint64(len(product)))
	buf = append(buf, product+user...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(start.UnixMilli()))
	sum := sha256.Sum256(buf)

	return "s_" + hex.EncodeToString(sum[:16])
}

func ev(id, user string, at time.Time, typ string) *event.Event {
	return &event.Event{EventID: id, EventType: typ, UserID: user, ProductID: "bot", Timestamp: at}
}

func msg(id, user string, at time.Time) *event.Event { return ev(id, user, at, event.TypeMessageUser) }

func ids(events []*event.Event) map[string]string {
	out := make(map[string]string, len(events))
	for _, e := range events {
		out[e.EventID] = e.SessionID
	}

	return out
}

func TestTimeoutCrossing(t *testing.T) {
	s := newSessionStore(timeout, 100)
	// Gaps: 10m, then exactly the timeout (still the same session), then
	// the timeout plus one millisecond (a new session).
	a := t0
	b := a.Add(10 * time.Minute)
	c := b.Add(timeout)
	d := c.Add(timeout + time.Millisecond)
	e := d.Add(time.Second)
	events := []*event.Event{msg("a", "u1", a), msg("b", "u1", b), msg("c", "u1", c), msg("d", "u1", d), msg("e", "u1", e)}

	assigned, evicted := s.assign(events, wall)
	assert.Equal(t, 5, assigned)
	assert.Zero(t, evicted)
	first, second := wantID("bot", "u1", a), wantID("bot", "u1", d)
	assert.Equal(t, map[string]string{"a": first, "b": first, "c": first, "d": second, "e": second}, ids(events))
	assert.NotEqual(t, first, second)
}

func TestSessionEndCloses(t *testing.T) {
	s := newSessionStore(timeout, 100)
	end := t0.Add(time.Minute)
	events := []*event.Event{
		msg("a", "u1", t0),
		ev("end", "u1", end, event.TypeSessionEnd),
		// Same millisecond as the end: still part of the ended session.
		ev("tie", "u1", end, event.TypeMessageAgent),
		msg("after", "u1", end.Add(time.Minute)),
	}
	s.assign(events, wall)
	first, second := wantID("bot", "u1", t0), wantID("bot", "u1", end.Add(time.Minute))
	assert.Equal(t, map[string]string{"a": first, "end": first, "tie": first, "after": second}, ids(events))

	// A later batch: an event between the end and "after" joins the
	// session that "after" opened, not the ended one; one just before the
	// end still joins the ended session.
	between := msg("between", "u1", end.Add(30*time.Second))
	before := msg("before", "u1", end.Add(-time.Millisecond))
	s.assign([]*event.Event{between, before}, wall)
	assert.Equal(t, second, between.SessionID)
	assert.Equal(t, first, before.SessionID)
}

func TestOutOfOrderWithinBatch(t *testing.T) {
	times := []time.Duration{0, 5 * time.Minute, 20 * time.Minute, 70 * time.Minute, 80 * time.Minute, 200 * time.Minute}
	var sorted []*event.Event
	for i, d := range times {
		sorted = append(sorted, msg(fmt.Sprintf("e%d", i), "u1", t0.Add(d)))
	}
	// In timestamp order: gaps of 5m and 15m, then 50m (new), 10m, then
	// 120m (new).
	s1, s2, s3 := wantID("bot", "u1", t0), wantID("bot", "u1", t0.Add(70*time.Minute)), wantID("bot", "u1", t0.Add(200*time.Minute))
	want := map[string]string{"e0": s1, "e1": s1, "e2": s1, "e3": s2, "e4": s2, "e5": s3}

	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 10 {
		shuffled := make([]*event.Event, len(sorted))
		for i, j := range rng.Perm(len(sorted)) {
			e := *sorted[j]
			shuffled[i] = &e
		}
		s := newSessionStore(timeout, 100)
		s.assign(shuffled, wall)
		assert.Equal(t, want, ids(shuffled), "round %d", round)
	}
}

func TestOutOfOrderAcrossBatches(t *testing.T) {
	s := newSessionStore(timeout, 100)
	first := []*event.Event{msg("a", "u1", t0), msg("b", "u1", t0.Add(5*time.Minute))}
	s.assign(first, wall)
	sess := wantID("bot", "u1", t0)
	require.Equal(t, sess, first[0].SessionID)

	late := []*event.Event{
		msg("inside", "u1", t0.Add(2*time.Minute)),
		// 10 minutes before the known start: within the timeout, joins it.
		msg("before", "u1", t0.Add(-10*time.Minute)),
		// 20 minutes after the known end: extends it.
		msg("after", "u1", t0.Add(25*time.Minute)),
		// Two hours before: its own session, named after its own time.
		msg("old", "u1", t0.Add(-2*time.Hour)),
	}
	s.assign(late, wall)
	assert.Equal(t, map[string]string{
		"inside": sess, "before": sess, "after": sess, "old": wantID("bot", "u1", t0.Add(-2*time.Hour)),
	}, ids(late))

	// The session grew both ways: 25m after "after" still joins, and so
	// does an event 30m before "before".
	more := []*event.Event{msg("later", "u1", t0.Add(50*time.Minute)), msg("earlier", "u1", t0.Add(-40*time.Minute))}
	s.assign(more, wall)
	assert.Equal(t, map[string]string{"later": sess, "earlier": sess}, ids(more))
	// 31 minutes before the earliest known event is too far.
	tooEarly := msg("too-early", "u1", t0.Add(-71*time.Minute))
	s.assign([]*event.Event{tooEarly}, wall)
	assert.Equal(t, wantID("bot", "u1", t0.Add(-71*time.Minute)), tooEarly.SessionID)
}

func TestLateSessionEndDoesNotJoinLaterSession(t *testing.T) {
	s := newSessionStore(timeout, 100)
	s.assign([]*event.Event{msg("a", "u1", t0)}, wall)
	// A session.end five minutes before that session's start cannot end
	// it: it ends a session of its own.
	end := ev("end", "u1", t0.Add(-5*time.Minute), event.TypeSessionEnd)
	s.assign([]*event.Event{end}, wall)
	assert.Equal(t, wantID("bot", "u1", t0.Add(-5*time.Minute)), end.SessionID)
}

func TestClientSessionIDsUntouched(t *testing.T) {
	s := newSessionStore(timeout, 100)
	withID := msg("a", "u1", t0)
	withID.SessionID = "sess_client"
	noUser := msg("b", "", t0)
	farApart := msg("c", "u1", t0.Add(48*time.Hour))
	farApart.SessionID = "sess_client"

	assigned, _ := s.assign([]*event.Event{withID, noUser, farApart}, wall)
	assert.Zero(t, assigned)
	assert.Equal(t, "sess_client", withID.SessionID)
	assert.Equal(t, "sess_client", farApart.SessionID)
	assert.Empty(t, noUser.SessionID, "an event without a user has no session to join")
	assert.Empty(t, s.users, "client sessions leave no server state")
}

// partition labels each event with the smallest event id of its session,
// so that two assignments can be compared whatever the ids are named.
func partition(events []*event.Event) map[string]string {
	smallest := map[string]string{}
	for _, e := range events {
		if cur, ok := smallest[e.SessionID]; !ok || e.EventID < cur {
			smallest[e.SessionID] = e.EventID
		}
	}
	out := make(map[string]string, len(events))
	for _, e := range events {
		out[e.EventID] = smallest[e.SessionID]
	}

	return out
}

func TestDeterministicIDs(t *testing.T) {
	// Three users, an event every 17 minutes for six events, then one more
	// after a gap of 40 minutes.
	build := func() []*event.Event {
		var out []*event.Event
		for u := range 3 {
			user := fmt.Sprintf("user%d", u)
			for i := range 6 {
				out = append(out, msg(fmt.Sprintf("u%d-%d", u, i), user, t0.Add(time.Duration(i*17)*time.Minute)))
			}
			out = append(out, msg(fmt.Sprintf("u%d-6", u), user, t0.Add(125*time.Minute)))
		}
		return out
	}
	reversedBatches := func(s *sessionStore, events []*event.Event) {
		for i := len(events); i > 0; i -= 4 {
			var batch []*event.Event
			for j := i - 1; j >= max(i-4, 0); j-- {
				batch = append(batch, events[j])
			}
			s.assign(batch, wall)
		}
	}

	// In one batch, each user's sessions are named after their first
	// events: t0 and t0+125m.
	whole := build()
	newSessionStore(timeout, 100).assign(whole, wall)
	for _, e := range whole {
		start := t0
		if e.Timestamp.Sub(t0) == 125*time.Minute {
			start = t0.Add(125 * time.Minute)
		}
		assert.Equal(t, wantID("bot", e.UserID, start), e.SessionID, e.EventID)
	}

	// In reverse order over batches of four, the grouping is the same.
	split := build()
	s := newSessionStore(timeout, 100)
	reversedBatches(s, split)
	assert.Equal(t, partition(whole), partition(split))

	// The same batches on a fresh store give the same ids, and resending
	// them to the first store too.
	again := build()
	reversedBatches(newSessionStore(timeout, 100), again)
	assert.Equal(t, ids(split), ids(again))
	resent := build()
	s.assign(resent, wall)
	assert.Equal(t, ids(split), ids(resent))

	// Products never share ids, and the length prefix keeps ("ab", "c")
	// and ("a", "bc") apart.
	other := ev("x", "user0", t0, event.TypeMessageUser)
	other.ProductID = "other-bot"
	newSessionStore(timeout, 100).assign([]*event.Event{other}, wall)
	assert.Equal(t, wantID("other-bot", "user0", t0), other.SessionID)
	assert.NotEqual(t, whole[0].SessionID, other.SessionID)
	assert.NotEqual(t, sessionKey("ab", "c"), sessionKey("a", "bc"))
}

func TestEvictionBound(t *testing.T) {
	const limit = 3
	s := newSessionStore(timeout, limit)
	var total int
	for i := range 5 {
		_, evicted := s.assign([]*event.Event{msg(fmt.Sprintf("e%d", i), fmt.Sprintf("u%d", i), t0)}, wall.Add(time.Duration(i)*time.Second))
		total += evicted
		assert.LessOrEqual(t, len(s.users), limit)
	}
	assert.Equal(t, 5-limit, total)
	assert.Equal(t, int64(limit), s.open.Load())

	// u0 and u1 were the least recently active and are gone: u0's next
	// event, though within the timeout, opens a new session.
	assert.NotContains(t, s.users, sessionKey("bot", "u0"))
	assert.NotContains(t, s.users, sessionKey("bot", "u1"))
	again := msg("again", "u0", t0.Add(time.Minute))
	_, evicted := s.assign([]*event.Event{again}, wall.Add(10*time.Second))
	assert.Equal(t, 1, evicted)
	assert.Equal(t, wantID("bot", "u0", t0.Add(time.Minute)), again.SessionID)
	assert.Contains(t, s.users, sessionKey("bot", "u4"), "the most recent users stay")
}

func TestExpiryAndOpenCount(t *testing.T) {
	s := newSessionStore(timeout, 100)
	s.assign([]*event.Event{msg("a", "u1", t0), msg("b", "u2", t0)}, wall)
	assert.Equal(t, int64(2), s.open.Load())

	s.assign([]*event.Event{ev("end", "u2", t0.Add(time.Minute), event.TypeSessionEnd)}, wall.Add(time.Minute))
	assert.Equal(t, int64(1), s.open.Load(), "u2's session ended")
	// u2's ended session is still remembered for late events.
	late := msg("late", "u2", t0.Add(30*time.Second))
	s.assign([]*event.Event{late}, wall.Add(2*time.Minute))
	assert.Equal(t, wantID("bot", "u2", t0), late.SessionID)

	// u1 has had no event arrive for longer than the timeout; u2's last
	// arrived at wall+2m, which is within it.
	s.assign(nil, wall.Add(31*time.Minute)) // nothing pending: no sweep
	assert.Len(t, s.users, 2)
	s.assign([]*event.Event{msg("c", "u3", t0.Add(time.Hour))}, wall.Add(timeout+time.Minute+time.Millisecond))
	assert.NotContains(t, s.users, sessionKey("bot", "u1"))
	assert.Contains(t, s.users, sessionKey("bot", "u2"))
	assert.Equal(t, int64(1), s.open.Load(), "u3 open, u1 forgotten, u2 ended")
}

func TestSpansPerUserBounded(t *testing.T) {
	s := newSessionStore(timeout, 100)
	for i := range 10 {
		s.assign([]*event.Event{msg(fmt.Sprintf("e%d", i), "u1", t0.Add(time.Duration(i)*time.Hour))}, wall)
	}
	u := s.users[sessionKey("bot", "u1")]
	require.Len(t, u.spans, maxSpansPerUser)
	// The most recent four sessions are kept, in order.
	for i, sp := range u.spans {
		assert.Equal(t, t0.Add(time.Duration(6+i)*time.Hour).UnixMilli(), sp.first)
	}
}
