package queryapi

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentpulse/agentpulse/internal/event"
)

// defaultPeriod is the period a query covers when it names no bound.
const defaultPeriod = 30 * 24 * time.Hour

// Limits of the paging parameters.
const (
	defaultSessionsLimit = 50
	defaultTopicsLimit   = 20
	maxLimit             = 1000
)

// Bounds of filter values. An id longer than event.MaxIDBytes is never
// stored, so it cannot match; a topic or an outcome longer than
// maxFilterBytes is refused rather than written into a statement the store
// may refuse for its size.
const maxFilterBytes = 4096

// Parameters each endpoint reads; any other is refused, so that a filter an
// endpoint does not apply (user_id on /v1/economics, say) is not mistaken
// for one it applied.
var (
	periodParams    = []string{"product_id", "from", "to", "topic"}
	funnelParams    = periodParams
	economicsParams = periodParams
	topicsParams    = append(slices.Clip(periodParams), "limit")
	sessionsParams  = append(slices.Clip(periodParams), "outcome", "user_id", "limit", "offset")
	sessionParams   = []string{"product_id"}
)

// parseQuery reads a request's query string strictly: bad URL encoding and a
// parameter the endpoint does not read are errors.
func parseQuery(raw string, accepted []string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &paramError{param: "query string", msg: fmt.Sprintf(
			"%v; escape reserved characters in values as %%XX", err)}
	}
	unknown := make([]string, 0, len(q))
	for k := range q {
		if !slices.Contains(accepted, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		for i, k := range unknown {
			if k == "" {
				unknown[i] = `""`
			}
		}
		what := "not a parameter"
		if len(unknown) > 1 {
			what = "not parameters"
		}
		return nil, &paramError{param: strings.Join(unknown, ", "), msg: fmt.Sprintf(
			"%s of this endpoint; accepted parameters are %s", what, strings.Join(accepted, ", "))}
	}
	for _, p := range []string{"topic", "outcome"} {
		if v := q.Get(p); len(v) > maxFilterBytes {
			return nil, &paramError{param: p, msg: fmt.Sprintf(
				"%d bytes long, accepted values are at most %d bytes", len(v), maxFilterBytes)}
		}
	}
	if v := q.Get("user_id"); len(v) > event.MaxIDBytes {
		return nil, &paramError{param: "user_id", msg: fmt.Sprintf(
			"%d bytes long, accepted values are at most %d bytes (no longer user_id is stored)", len(v), event.MaxIDBytes)}
	}

	return q, nil
}

// dateLayout is the bare-date form accepted by from and to.
const dateLayout = "2006-01-02"

// paramError is a query parameter that cannot be used; its message names
// the parameter, the value and what is accepted.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string {
	return e.param + ": " + e.msg
}

// period is the [from, to) window of a query.
type period struct {
	from, to time.Time
}

// parsePeriod reads from and to. A missing bound defaults to the last 30
// days up to now: to is now, from is 30 days before to.
func parsePeriod(q url.Values, now time.Time) (period, error) {
	p := period{to: now.UTC().Truncate(time.Millisecond)}
	if v := q.Get("to"); v != "" {
		t, err := parseTime("to", v, true)
		if err != nil {
			return period{}, err
		}
		p.to = t
	}
	p.from = p.to.Add(-defaultPeriod)
	if v := q.Get("from"); v != "" {
		t, err := parseTime("from", v, false)
		if err != nil {
			return period{}, err
		}
		p.from = t
	}
	if p.from.After(p.to) {
		return period{}, &paramError{param: "from", msg: fmt.Sprintf(
			"%s is after to (%s); from must not be later than to",
			p.from.Format(time.RFC3339Nano), p.to.Format(time.RFC3339Nano))}
	}

	return p, nil
}

// parseTime reads an RFC3339 time or a bare date (midnight UTC). A bare date
// in to covers that whole day, so it means the next midnight. A space stands
// for a '+' that the client left unescaped in the URL.
func parseTime(param, v string, endOfDay bool) (time.Time, error) {
	s := strings.ReplaceAll(v, " ", "+")
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(dateLayout, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		// The day after 9999-12-31 has no RFC3339 form; the last
		// millisecond of that day stands for it.
		if t.Year() > 9999 {
			t = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
		}
		return t, nil
	}

	return time.Time{}, &paramError{param: param, msg: fmt.Sprintf(
		"got %q, accepted values are an RFC3339 time such as 2025-05-01T09:30:00+09:00 or a date such as 2025-05-01", v)}
}

// parseLimit reads a positive count no larger than maxLimit.
func parseLimit(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, &paramError{param: "limit", msg: fmt.Sprintf(
			"got %q, accepted values are integers from 1 to %d", v, maxLimit)}
	}

	return n, nil
}

// parseOffset reads a count of rows to skip.
func parseOffset(q url.Values) (int, error) {
	v := q.Get("offset")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &paramError{param: "offset", msg: fmt.Sprintf(
			"got %q, accepted values are integers from 0 to %d", v, int64(math.MaxInt64))}
	}

	return int(n), nil
}
