package chstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

// assertMatchesReference compares every answer for product with the Go
// reference computed from the deduplicated events.
func assertMatchesReference(t *testing.T, s *Store, stored []event.Event, product string) {
	t.Helper()
	opts := analytics.Options{Now: day0.Add(72 * time.Hour), SessionTimeout: 30 * time.Minute}
	custom := opts
	custom.Stages = []analytics.Stage{
		{Name: "reached"},
		{Name: "talked", MinConversationDepth: 3},
		{Name: "used_tool", EventType: event.TypeToolCall},
		{Name: "paid", Converted: true, Outcome: "payment"},
	}
	filters := []analytics.Filter{
		{ProductID: product},
		{ProductID: product, From: day0.Add(12 * time.Hour), To: day0.Add(40 * time.Hour)},
		{ProductID: product, Topic: "billing"},
		{ProductID: product, Outcome: "artifact"},
		{ProductID: product, UserID: "user-3"},
	}
	ref := map[string]map[string]*refSession{}
	for _, o := range []analytics.Options{opts, custom} {
		all := refSessions(stored, product, o)
		ref[fmt.Sprint(len(o.Stages))] = all
		stages := normalizeOptions(o).Stages
		for _, f := range filters {
			sel := refSelect(all, f)
			funnel, err := s.Funnel(t.Context(), f, o)
			require.NoError(t, err)
			assertFunnel(t, refFunnel(sel, stages), funnel)

			econ, err := s.Economics(t.Context(), f, o)
			require.NoError(t, err)
			assertEconomics(t, refEconomics(sel), econ)

			topics, err := s.Topics(t.Context(), f, o, 3)
			require.NoError(t, err)
			assertTopics(t, refTopics(sel, 3), topics)

			list, total, err := s.Sessions(t.Context(), f, o, 1000, 0)
			require.NoError(t, err)
			assert.Equal(t, int64(len(sel)), total)
			require.Len(t, list, len(sel))
			for i := range sel {
				assertSummary(t, sel[i].summary, list[i])
			}
		}
	}
	for id, r := range ref["0"] {
		sum, evs, found, err := s.Session(t.Context(), product, id, opts)
		require.NoError(t, err)
		require.True(t, found, id)
		assertSummary(t, r.summary, sum)
		require.Len(t, evs, len(r.eventList), id)
	}
}

// TestRefreshedSummariesMatchReference checks the answers when they come
// from stored summaries, from events written since the last refresh, and
// from both, with events resent in between.
func TestRefreshedSummariesMatchReference(t *testing.T) {
	s := newTestStore(t)
	events := randomEvents(11, 80, day0)
	half := len(events) / 2
	require.NoError(t, s.Insert(t.Context(), events[:half]))
	require.NoError(t, s.Refresh(t.Context()))
	t.Run("stored", func(t *testing.T) {
		assertMatchesReference(t, s, refDedup(events[:half]), "alpha")
	})

	// Then the rest, with a slice of the first half again: some sessions
	// are stored and touched again, others are new.
	require.NoError(t, s.Insert(t.Context(), events[half:]))
	require.NoError(t, s.Insert(t.Context(), events[half/3:half/2]))
	all := refDedup(events[:half], events[half:], events[half/3:half/2])
	t.Run("stored and unrefreshed", func(t *testing.T) {
		assertMatchesReference(t, s, all, "alpha")
		assertMatchesReference(t, s, all, "beta")
	})

	require.NoError(t, s.Refresh(t.Context()))
	t.Run("refreshed again", func(t *testing.T) {
		assertMatchesReference(t, s, all, "alpha")
	})

	var stored int64
	require.NoError(t, s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".session_summaries FINAL WHERE product_id = 'alpha'",
		func(r resultRows) error { return r.Scan(&stored) }))
	assert.Equal(t, int64(len(refSessions(all, "alpha", analytics.Options{}))), stored,
		"every session of the product is stored after a refresh")
}

// TestRefreshAfterEventsMoved covers an event written again with another
// session after its first session was summarized, also when a merge has
// already dropped the first copy from events: the session it left is
// summarized again without it, and a session left empty disappears.
func TestRefreshAfterEventsMoved(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merged=%t", merge), func(t *testing.T) {
			s := newTestStore(t)
			keep := event.Event{EventID: "e0", SessionID: "old", EventType: event.TypeMessageAgent,
				Timestamp: day0.Add(-time.Second), UserID: "u", ProductID: "p"}
			moved := event.Event{EventID: "e1", SessionID: "old", EventType: event.TypeMessageUser,
				Timestamp: day0, UserID: "u", ProductID: "p"}
			alone := event.Event{EventID: "e2", SessionID: "lonely", EventType: event.TypeMessageUser,
				Timestamp: day0, UserID: "u", ProductID: "p"}
			require.NoError(t, s.Insert(t.Context(), []event.Event{keep, moved, alone}))
			require.NoError(t, s.Refresh(t.Context()))

			moved.SessionID = "new"
			alone.SessionID = "new"
			require.NoError(t, s.Insert(t.Context(), []event.Event{moved, alone}))
			if merge {
				require.NoError(t, s.exec(t.Context(), "OPTIMIZE TABLE "+s.db+".events FINAL"))
				var rows int64
				require.NoError(t, s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".events",
					func(r resultRows) error { return r.Scan(&rows) }))
				require.Equal(t, int64(3), rows, "the merge kept one copy of each event")
			}

			check := func(t *testing.T) {
				f := analytics.Filter{ProductID: "p"}
				list, total, err := s.Sessions(t.Context(), f, analytics.Options{}, 10, 0)
				require.NoError(t, err)
				require.Equal(t, int64(2), total, "old and new; lonely lost its only event")
				depth := map[string]int64{}
				for _, sum := range list {
					depth[sum.SessionID] = sum.ConversationDepth
				}
				assert.Equal(t, map[string]int64{"old": 0, "new": 2}, depth)

				funnel, err := s.Funnel(t.Context(), f, analytics.Options{})
				require.NoError(t, err)
				assert.Equal(t, int64(2), funnel[0].Sessions)
				assert.Equal(t, int64(1), funnel[1].Sessions, "only new is engaged")

				_, _, found, err := s.Session(t.Context(), "p", "lonely", analytics.Options{})
				require.NoError(t, err)
				assert.False(t, found)
				// The detail agrees with the list: old lost e1 (its user
				// message), new has e1 and e2.
				for id, want := range map[string]int64{"old": 0, "new": 2} {
					sum, evs, found, err := s.Session(t.Context(), "p", id, analytics.Options{})
					require.NoError(t, err)
					require.True(t, found, id)
					assert.Equal(t, want, sum.ConversationDepth, id)
					assert.Len(t, evs, map[string]int{"old": 1, "new": 2}[id], id)
				}
			}
			t.Run("before refresh", check)
			require.NoError(t, s.Refresh(t.Context()))
			t.Run("after refresh", check)
		})
	}
}

// TestInsertStampsAreNotBelowTheWatermark checks that an insert never
// stamps its rows below a watermark already handed out, even when the
// clock is behind it, so that no event escapes both the stored summaries
// and the summaries computed when querying.
func TestInsertStampsAreNotBelowTheWatermark(t *testing.T) {
	var f inflight
	future := time.Now().Add(time.Hour).UnixMilli()
	f.floor = future
	id, start := f.begin()
	assert.Equal(t, future, start)
	w, _, idle := f.horizon(0)
	assert.Equal(t, future, w, "the watermark stays at the insert in flight")
	assert.False(t, idle)
	f.end(id)

	id1, start1 := f.begin()
	id2, _ := f.begin()
	f.end(id2)
	w, written, idle := f.horizon(0)
	assert.Equal(t, start1, w, "an insert in flight holds the watermark back")
	assert.Equal(t, uint64(2), written)
	assert.False(t, idle)
	f.end(id1)

	w, written, idle = f.horizon(0)
	assert.True(t, idle)
	assert.Equal(t, uint64(3), written)
	id3, start3 := f.begin()
	assert.GreaterOrEqual(t, start3, w, "an insert after the horizon is stamped at or after it")
	f.end(id3)
}

// TestRefresherRunsAfterWrites checks that summaries are stored without
// calling Refresh once events are written.
func TestRefresherRunsAfterWrites(t *testing.T) {
	saved := refreshInterval
	refreshInterval = 20 * time.Millisecond
	s := newTestStore(t)
	refreshInterval = saved

	events := randomEvents(5, 10, day0)
	require.NoError(t, s.Insert(t.Context(), events))
	want := int64(len(refSessions(refDedup(events), "alpha", analytics.Options{})))
	require.Eventually(t, func() bool {
		var stored int64
		err := s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".session_summaries FINAL WHERE product_id = 'alpha'",
			func(r resultRows) error { return r.Scan(&stored) })
		return err == nil && stored == want
	}, 10*time.Second, 20*time.Millisecond)
	assertMatchesReference(t, s, refDedup(events), "alpha")
}

// TestSessionStartMovesToAnotherHour covers a stored session whose start
// moves to another hour (the summaries are keyed by start hour): earlier
// when an earlier event arrives late, later when that event moves to
// another session. The refresh deletes the row under the old start, so
// the session is counted once, at its new place in the list.
func TestSessionStartMovesToAnotherHour(t *testing.T) {
	s := newTestStore(t)
	late := newBuilder("p", "s1", "u", day0.Add(5*time.Hour)).add(0, event.TypeMessageUser, nil).events
	others := append(
		newBuilder("p", "s2", "u", day0.Add(3*time.Hour)).add(0, event.TypeMessageUser, nil).events,
		newBuilder("p", "s3", "u", day0.Add(4*time.Hour+30*time.Minute)).add(0, event.TypeMessageUser, nil).events...)
	require.NoError(t, s.Insert(t.Context(), append(late, others...)))
	require.NoError(t, s.Refresh(t.Context()))

	// s1's first event, two hours before the one stored.
	early := event.Event{EventID: "s1-early", SessionID: "s1", EventType: event.TypeMessageAgent,
		Timestamp: day0.Add(3 * time.Hour), UserID: "u", ProductID: "p"}
	require.NoError(t, s.Insert(t.Context(), []event.Event{early}))
	all := refDedup(late, others, []event.Event{early})

	check := func(t *testing.T, all []event.Event, want []string) {
		t.Helper()
		sel := refSelect(refSessions(all, "p", analytics.Options{}), analytics.Filter{ProductID: "p"})
		var ids []string
		for _, r := range sel {
			ids = append(ids, r.summary.SessionID)
		}
		require.Equal(t, want, ids, "the reference order")
		if s.refreshed() {
			assertMatchesReference(t, s, all, "p")
		}
		for _, limit := range []int{1, 2} {
			var got []string
			for offset := 0; offset < len(want); offset += limit {
				list, total, err := s.Sessions(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{}, limit, offset)
				require.NoError(t, err)
				assert.Equal(t, int64(len(want)), total)
				for _, x := range list {
					got = append(got, x.SessionID)
				}
			}
			assert.Equal(t, want, got, "pages of %d", limit)
		}
	}
	// s1 and s2 start at the same millisecond: session_id breaks the tie.
	t.Run("earlier, before refresh", func(t *testing.T) { check(t, all, []string{"s3", "s1", "s2"}) })
	require.NoError(t, s.Refresh(t.Context()))
	t.Run("earlier, refreshed", func(t *testing.T) { check(t, all, []string{"s3", "s1", "s2"}) })

	var rows int64
	require.NoError(t, s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".session_summaries FINAL WHERE session_id = 's1'",
		func(r resultRows) error { return r.Scan(&rows) }))
	assert.Equal(t, int64(1), rows, "one stored row for s1")

	// The early event moves to a new session: s1 starts at 5h again.
	moved := early
	moved.SessionID = "s4"
	require.NoError(t, s.Insert(t.Context(), []event.Event{moved}))
	all = refDedup(late, others, []event.Event{early}, []event.Event{moved})
	t.Run("later, before refresh", func(t *testing.T) { check(t, all, []string{"s1", "s3", "s2", "s4"}) })
	require.NoError(t, s.Refresh(t.Context()))
	t.Run("later, refreshed", func(t *testing.T) { check(t, all, []string{"s1", "s3", "s2", "s4"}) })
}

// TestSessionPagesMatchReference pages through the session list with
// every small limit and offset, over stored summaries and over sessions
// written since the last refresh, on both ways of reading a page: through
// the start time of the page's last session and, past maxHeadRows, by
// sorting every match.
func TestSessionPagesMatchReference(t *testing.T) {
	s := newTestStore(t)
	events := randomEvents(11, 40, day0)
	half := len(events) / 2
	require.NoError(t, s.Insert(t.Context(), events[:half]))
	require.NoError(t, s.Refresh(t.Context()))
	require.NoError(t, s.Insert(t.Context(), events[half:]))
	all := refDedup(events[:half], events[half:])

	opts := analytics.Options{Now: day0.Add(72 * time.Hour)}
	filters := []analytics.Filter{
		{ProductID: "alpha"},
		{ProductID: "beta", Topic: "billing", From: day0.Add(12 * time.Hour)},
	}
	check := func(t *testing.T) {
		for _, f := range filters {
			sel := refSelect(refSessions(all, f.ProductID, opts), f)
			require.NotEmpty(t, sel, "filter %+v selects sessions", f)
			for _, limit := range []int{2, 5} {
				for offset := 0; offset <= len(sel)+1; offset += limit - 1 {
					list, total, err := s.Sessions(t.Context(), f, opts, limit, offset)
					require.NoError(t, err)
					assert.Equal(t, int64(len(sel)), total, "filter %+v limit %d offset %d", f, limit, offset)
					want := sel[min(offset, len(sel)):min(offset+limit, len(sel))]
					require.Len(t, list, len(want), "filter %+v limit %d offset %d", f, limit, offset)
					for i := range want {
						assertSummary(t, want[i].summary, list[i])
					}
				}
			}
		}
	}
	saved := maxHeadRows
	defer func() { maxHeadRows = saved }()
	for _, refreshed := range []bool{false, true} {
		if refreshed {
			require.NoError(t, s.Refresh(t.Context()))
		}
		for _, head := range []int64{saved, 4} {
			maxHeadRows = head
			t.Run(fmt.Sprintf("refreshed=%t/maxHeadRows=%d", refreshed, head), check)
		}
	}
}

// TestRefreshInChunks covers a backlog larger than one refresh window: it
// is refreshed window by window, and the answers are the same as from one.
func TestRefreshInChunks(t *testing.T) {
	saved := refreshChunkEvents
	refreshChunkEvents = 25
	t.Cleanup(func() { refreshChunkEvents = saved })

	s := newTestStore(t)
	events := randomEvents(23, 40, day0)
	// Eight inserts, each stamped with its own millisecond, then a slice
	// of them again.
	step := (len(events) + 7) / 8
	for i := 0; i < len(events); i += step {
		require.NoError(t, s.Insert(t.Context(), events[i:min(i+step, len(events))]))
		time.Sleep(3 * time.Millisecond)
	}
	require.NoError(t, s.Insert(t.Context(), events[:step/2]))

	r := s.shared.refreshers[s.dbName]
	before := r.chunks.Load()
	require.NoError(t, s.Refresh(t.Context()))
	// Every insert but the last holds step events, more than a window of
	// 25, yet a window never splits one millisecond: at least one window
	// per insert.
	require.Greater(t, step, 25)
	assert.GreaterOrEqual(t, r.chunks.Load()-before, int64(9))
	assert.True(t, s.refreshed())
	all := refDedup(events, events[:step/2])
	assertMatchesReference(t, s, all, "alpha")
	assertMatchesReference(t, s, all, "beta")
}
