package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpulse/agentpulse/internal/event"
)

// maxSpansPerUser bounds how many recent sessions are remembered per user
// so that late events can still join them.
const maxSpansPerUser = 4

// sessionStore assigns server-side sessions to events that carry no
// session id. Sessions are computed from event timestamps at millisecond
// precision; the wall clock only decides when a user's state is forgotten.
//
// Limitation: the state lives in memory only, so after a restart a user's
// open session is not resumed and their next event opens a new session.
type sessionStore struct {
	mu       sync.Mutex
	timeout  int64 // milliseconds
	maxUsers int
	users    map[string]*userSessions

	// Users in order of their last event's arrival, most recent at head.
	head, tail *userSessions

	open atomic.Int64 // users whose latest session has not ended
}

// userSessions is one (product, user)'s recent sessions, sorted by start.
type userSessions struct {
	key        string
	prev, next *userSessions
	seen       int64 // arrival of the last event, unix milliseconds
	spans      []sessionSpan
	inline     [1]sessionSpan // backs spans while there is only one
}

// sessionSpan is one session's extent in event time. origin is the
// timestamp its id was derived from; it stays when the span grows.
type sessionSpan struct {
	first, last, origin int64
	ended               bool
}

func newSessionStore(timeout time.Duration, maxUsers int) *sessionStore {
	return &sessionStore{
		timeout:  timeout.Milliseconds(),
		maxUsers: maxUsers,
		users:    make(map[string]*userSessions),
	}
}

// pendingEvent is an event waiting for a server-side session id.
type pendingEvent struct {
	key string
	at  int64
	end bool
	ev  *event.Event
}

// assign sets SessionID on the events that have none and a user id,
// processing each user's events in timestamp order. It returns how many
// events received an id and how many users were evicted to make room.
func (s *sessionStore) assign(events []*event.Event, now time.Time) (assigned, evicted int) {
	pending := make([]pendingEvent, 0, len(events))
	for _, ev := range events {
		if ev.SessionID != "" || ev.UserID == "" {
			continue
		}
		pending = append(pending, pendingEvent{
			key: sessionKey(ev.ProductID, ev.UserID),
			at:  ev.Timestamp.UnixMilli(),
			end: ev.EventType == event.TypeSessionEnd,
			ev:  ev,
		})
	}
	if len(pending) == 0 {
		return 0, 0
	}
	// An event at the same millisecond as a session.end still belongs to
	// the session it ends; event ids settle the remaining ties.
	slices.SortFunc(pending, func(a, b pendingEvent) int {
		return cmp.Or(
			cmp.Compare(a.key, b.key),
			cmp.Compare(a.at, b.at),
			compareBool(a.end, b.end),
			cmp.Compare(a.ev.EventID, b.ev.EventID),
		)
	})

	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(nowMs)

	var ids idCache
	for from := 0; from < len(pending); {
		to := from + 1
		for to < len(pending) && pending[to].key == pending[from].key {
			to++
		}
		u, full := s.user(pending[from].key, nowMs)
		if full {
			evicted++
		}
		wasOpen := u.isOpen()
		s.placeUser(u, pending[from:to], &ids)
		s.trackOpen(wasOpen, u.isOpen())
		from = to
	}

	return len(pending), evicted
}

// placeUser places one user's pending events, sorted by time. They are
// taken in runs without a gap over the timeout or a session.end inside,
// and placed in time order, except a run that does not continue an
// earlier session but whose end reaches a later known one: that run is
// placed latest first, so that all of it joins that session, as it would
// have had the events arrived in order.
func (s *sessionStore) placeUser(u *userSessions, evs []pendingEvent, ids *idCache) {
	for from := 0; from < len(evs); {
		to := from + 1
		for to < len(evs) && !evs[to-1].end && evs[to].at-evs[to-1].at <= s.timeout {
			to++
		}
		run := evs[from:to]
		first, last := run[0], run[len(run)-1]
		if last.end || u.continues(first.at, s.timeout) || !u.joins(last.at, s.timeout) {
			for i := range run {
				run[i].ev.SessionID = ids.get(u.key, u.place(run[i].at, run[i].end, s.timeout))
			}
		} else {
			for i := len(run) - 1; i >= 0; i-- {
				run[i].ev.SessionID = ids.get(u.key, u.place(run[i].at, false, s.timeout))
			}
		}
		from = to
	}
}

// idCache remembers the last session id computed, since consecutive
// events mostly share one.
type idCache struct {
	key    string
	origin int64
	id     string
}

func (c *idCache) get(key string, origin int64) string {
	if c.id == "" || c.key != key || c.origin != origin {
		c.key, c.origin, c.id = key, origin, sessionID(key, origin)
	}

	return c.id
}

// user returns the state of key, creating it and evicting the least
// recently active user when the store is full.
func (s *sessionStore) user(key string, nowMs int64) (u *userSessions, evicted bool) {
	if u, ok := s.users[key]; ok {
		u.seen = nowMs
		s.unlink(u)
		s.pushFront(u)
		return u, false
	}
	if len(s.users) >= s.maxUsers && s.tail != nil {
		s.remove(s.tail)
		evicted = true
	}
	u = &userSessions{key: key, seen: nowMs}
	u.spans = u.inline[:0]
	s.users[key] = u
	s.pushFront(u)

	return u, evicted
}

// expire forgets users none of whose events arrived within the timeout.
func (s *sessionStore) expire(nowMs int64) {
	for s.tail != nil && nowMs-s.tail.seen > s.timeout {
		s.remove(s.tail)
	}
}

func (s *sessionStore) remove(u *userSessions) {
	if u.isOpen() {
		s.open.Add(-1)
	}
	s.unlink(u)
	delete(s.users, u.key)
}

func (s *sessionStore) trackOpen(was, is bool) {
	switch {
	case is && !was:
		s.open.Add(1)
	case was && !is:
		s.open.Add(-1)
	}
}

func (s *sessionStore) pushFront(u *userSessions) {
	u.prev, u.next = nil, s.head
	if s.head != nil {
		s.head.prev = u
	}
	s.head = u
	if s.tail == nil {
		s.tail = u
	}
}

func (s *sessionStore) unlink(u *userSessions) {
	if u.prev != nil {
		u.prev.next = u.next
	} else {
		s.head = u.next
	}
	if u.next != nil {
		u.next.prev = u.prev
	} else {
		s.tail = u.prev
	}
	u.prev, u.next = nil, nil
}

// isOpen reports whether the user's latest session has not ended.
func (u *userSessions) isOpen() bool {
	return len(u.spans) > 0 && !u.spans[len(u.spans)-1].ended
}

// continues reports whether an event at time at would join the latest
// session that started at or before it.
func (u *userSessions) continues(at, timeout int64) bool {
	i := u.predecessor(at)
	if i < 0 {
		return false
	}
	s := u.spans[i]

	return at <= s.last || (!s.ended && at-s.last <= timeout)
}

// joins reports whether an event at time at would join a known session
// rather than open one.
func (u *userSessions) joins(at, timeout int64) bool {
	if u.continues(at, timeout) {
		return true
	}
	next := u.predecessor(at) + 1

	return next < len(u.spans) && u.spans[next].first-at <= timeout
}

// predecessor is the index of the latest session that started at or
// before at, or -1.
func (u *userSessions) predecessor(at int64) int {
	i := len(u.spans) - 1
	for i >= 0 && u.spans[i].first > at {
		i--
	}

	return i
}

// place puts an event at time at into one of the user's sessions and
// returns that session's origin. An event joins the latest session that
// started at or before it if it falls inside it, or within the timeout
// after it and that session has not ended; otherwise it joins the next
// session if that starts within the timeout after it (a session.end never
// does: it cannot end a session that starts later); otherwise it opens a
// session of its own.
func (u *userSessions) place(at int64, end bool, timeout int64) int64 {
	i := u.predecessor(at)
	if i >= 0 {
		s := &u.spans[i]
		if at <= s.last || (!s.ended && at-s.last <= timeout) {
			s.last = max(s.last, at)
			s.ended = s.ended || end
			return s.origin
		}
	}
	if next := i + 1; !end && next < len(u.spans) && u.spans[next].first-at <= timeout {
		u.spans[next].first = at
		return u.spans[next].origin
	}

	u.spans = slices.Insert(u.spans, i+1, sessionSpan{first: at, last: at, origin: at, ended: end})
	if len(u.spans) > maxSpansPerUser {
		u.spans = slices.Delete(u.spans, 0, 1)
	}

	return at
}

// sessionKey identifies a (product, user) pair without ambiguity.
func sessionKey(product, user string) string {
	b := make([]byte, 0, binary.MaxVarintLen64+len(product)+len(user))
	b = binary.AppendUvarint(b, uint64(len(product)))
	b = append(b, product...)
	b = append(b, user...)

	return string(b)
}

// sessionID derives a session id from its (product, user) key and the
// millisecond timestamp it started at, so that resent events get the same
// id.
func sessionID(key string, originMs int64) string {
	var buf [96]byte
	msg := append(buf[:0], key...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(originMs))
	sum := sha256.Sum256(msg)

	const prefix = "s_"
	out := make([]byte, len(prefix)+32)
	copy(out, prefix)
	hex.Encode(out[len(prefix):], sum[:16])

	return string(out)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}

	return -1
}
