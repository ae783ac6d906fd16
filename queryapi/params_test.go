package queryapi

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 30, 45, 123456789, time.UTC)
	nowMS := time.Date(2025, 6, 15, 12, 30, 45, 123000000, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	ny := time.FixedZone("EDT", -4*3600)

	tests := []struct {
		name     string
		query    string // raw query string, decoded as a server would
		from, to time.Time
		errParam string // the parameter the 400 names
	}{
		{
			name: "defaults to the last 30 days up to now",
			from: nowMS.AddDate(0, 0, -30),
			to:   nowMS,
		},
		{
			name:  "bare dates: from at midnight UTC, to includes its whole day",
			query: "from=2025-05-01&to=2025-05-31",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "the last representable day ends at its last millisecond",
			query: "from=2025-05-01&to=9999-12-31",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		},
		{
			name:  "same bare date on both sides is one day",
			query: "from=2025-05-01&to=2025-05-01",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 5, 2, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "bare date at the end of a year",
			query: "from=2024-12-31&to=2024-12-31",
			from:  time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "RFC3339 with Z",
			query: "from=2025-05-01T10:00:00Z&to=2025-05-02T10:00:00.250Z",
			from:  time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 5, 2, 10, 0, 0, 250000000, time.UTC),
		},
		{
			name:  "escaped + offset",
			query: "from=2025-05-01T09:00:00%2B09:00&to=2025-05-02T00:00:00%2B09:00",
			from:  time.Date(2025, 5, 1, 9, 0, 0, 0, tokyo).UTC(),
			to:    time.Date(2025, 5, 2, 0, 0, 0, 0, tokyo).UTC(),
		},
		{
			name:  "unescaped + arrives as a space and is read as +",
			query: "from=2025-05-01T09:00:00+09:00&to=2025-05-02T00:00:00+09:00",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 5, 1, 15, 0, 0, 0, time.UTC),
		},
		{
			name:  "negative offset",
			query: "from=2025-05-01T20:00:00-04:00",
			from:  time.Date(2025, 5, 1, 20, 0, 0, 0, ny).UTC(),
			to:    nowMS,
		},
		{
			name:  "only from: to is now",
			query: "from=2025-06-01",
			from:  time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
			to:    nowMS,
		},
		{
			name:  "only to: from is 30 days before it",
			query: "to=2025-03-10",
			from:  time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -30),
			to:    time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "from equal to to is an empty period, not an error",
			query: "from=2025-05-01T00:00:00Z&to=2025-05-01T00:00:00Z",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "empty values mean the default",
			query: "from=&to=",
			from:  nowMS.AddDate(0, 0, -30),
			to:    nowMS,
		},
		{
			name:  "unknown parameters are ignored",
			query: "granularity=day&from=2025-05-01",
			from:  time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			to:    nowMS,
		},
		{name: "from after to", query: "from=2025-05-02&to=2025-05-01T12:00:00Z", errParam: "from"},
		{name: "from after the default to", query: "from=2999-01-01", errParam: "from"},
		{name: "to before from", query: "from=2025-06-10&to=2025-06-01", errParam: "from"},
		{name: "unparsable from", query: "from=yesterday", errParam: "from"},
		{name: "unparsable to", query: "to=2025-13-01", errParam: "to"},
		{name: "date without zero padding", query: "from=2025-5-1", errParam: "from"},
		{name: "time without offset", query: "from=2025-05-01T10:00:00", errParam: "from"},
		{name: "unix seconds", query: "to=1714550400", errParam: "to"},
		{name: "space between date and time", query: "from=2025-05-01%2010:00:00Z", errParam: "from"},
		{name: "day 31 of a 30-day month", query: "to=2025-04-31", errParam: "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)

			p, err := parsePeriod(q, now)
			if tt.errParam != "" {
				var pe *paramError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.errParam, pe.param)
				assert.Contains(t, err.Error(), tt.errParam+": ")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.from, p.from, "from")
			assert.Equal(t, tt.to, p.to, "to")
		})
	}
}

func TestParseLimitAndOffset(t *testing.T) {
	tests := []struct {
		query    string
		def      int
		limit    int
		offset   int
		errParam string
	}{
		{query: "", def: 50, limit: 50, offset: 0},
		{query: "", def: 20, limit: 20, offset: 0},
		{query: "limit=1&offset=0", def: 50, limit: 1, offset: 0},
		{query: "limit=1000&offset=999999", def: 50, limit: 1000, offset: 999999},
		{query: "limit=0", def: 50, errParam: "limit"},
		{query: "limit=1001", def: 20, errParam: "limit"},
		{query: "limit=-5", def: 50, errParam: "limit"},
		{query: "limit=ten", def: 50, errParam: "limit"},
		{query: "limit=2.5", def: 50, errParam: "limit"},
		{query: "limit=99999999999999999999999", def: 50, errParam: "limit"},
		{query: "offset=-1", def: 50, errParam: "offset"},
		{query: "offset=1e3", def: 50, errParam: "offset"},
		{query: "offset=99999999999999999999999", def: 50, errParam: "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)

			limit, lerr := parseLimit(q, tt.def)
			offset, oerr := parseOffset(q)
			if tt.errParam != "" {
				err := lerr
				if tt.errParam == "offset" {
					err = oerr
				}
				var pe *paramError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.errParam, pe.param)
				return
			}
			require.NoError(t, lerr)
			require.NoError(t, oerr)
			assert.Equal(t, tt.limit, limit)
			assert.Equal(t, tt.offset, offset)
		})
	}
}

func TestTidy(t *testing.T) {
	// Sums of prices pick up float noise in the last digits; the answers
	// write them rounded to 15 significant digits. The sums are taken at
	// run time: Go folds constant expressions exactly.
	a, b, c, d, e := 0.1, 0.2, 0.00436, 0.01, 0.7
	require.Equal(t, "0.30000000000000004", strconv.FormatFloat(a+b, 'g', -1, 64), "the inputs below have noise to remove")
	require.Equal(t, "0.014360000000000001", strconv.FormatFloat(c+d, 'g', -1, 64))
	require.Equal(t, "0.7999999999999999", strconv.FormatFloat(a+e, 'g', -1, 64))
	for _, tt := range []struct {
		x    float64
		want string
	}{
		{a + b, "0.3"},
		{c + d, "0.01436"},
		{1e12 - 10*a, "999999999999"}, // large sums keep their cents
		{1e11 + e, "100000000000.7"},
		{-(a + b), "-0.3"}, // margins can be negative
		{d / 3, "0.00333333333333333"},
		{0, "0"},
		{1e-12, "1e-12"},
	} {
		got, err := json.Marshal(tidy(tt.x))
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(got), "%v", tt.x)
	}

	s := analytics.SessionSummary{TotalCostUSD: c + d, RevenueUSD: a + b, MarginUSD: (a + b) - (c + d), CacheSavingsUSD: a + e}
	normalizeSummary(&s)
	got, err := json.Marshal(map[string]float64{"cost": s.TotalCostUSD, "revenue": s.RevenueUSD, "margin": s.MarginUSD, "saved": s.CacheSavingsUSD})
	require.NoError(t, err)
	assert.JSONEq(t, `{"cost": 0.01436, "revenue": 0.3, "margin": 0.28564, "saved": 0.8}`, string(got))

	// Revenue equal to cost is a margin of exactly 0, though the unrounded
	// sums differ by their noise.
	z := analytics.SessionSummary{TotalCostUSD: a + b, RevenueUSD: 0.3, MarginUSD: 0.3 - (a + b)}
	require.NotZero(t, z.MarginUSD)
	normalizeSummary(&z)
	assert.Zero(t, z.MarginUSD)
	assert.Equal(t, 0.3, z.TotalCostUSD)
	ten := 0.0
	for range 10 {
		ten += a
	}
	zero := analytics.Economics{Sessions: 2, TotalRevenueUSD: 1, TotalCostUSD: ten, GrossMarginUSD: 1 - ten, GrossMarginPct: new(1 - ten), AvgMarginPerSession: (1 - ten) / 2}
	require.NotZero(t, zero.GrossMarginUSD)
	tidyEconomics(&zero)
	assert.Zero(t, zero.GrossMarginUSD)
	assert.Zero(t, *zero.GrossMarginPct)
	assert.Zero(t, zero.AvgMarginPerSession)
	// A real margin keeps its value: revenue 0.3, cost 0.01436, two sessions.
	some := analytics.Economics{Sessions: 2, TotalRevenueUSD: a + b, TotalCostUSD: c + d, GrossMarginUSD: (a + b) - (c + d), GrossMarginPct: new(((a + b) - (c + d)) / (a + b))}
	tidyEconomics(&some)
	assert.Equal(t, 0.28564, some.GrossMarginUSD)
	assert.Equal(t, tidy(0.28564/0.3), *some.GrossMarginPct)
	assert.Equal(t, 0.14282, some.AvgMarginPerSession)
	topic := analytics.TopicRow{RevenueUSD: 1, TotalCostUSD: ten, MarginUSD: 1 - ten}
	rows := []analytics.TopicRow{topic}
	tidyTopics(rows)
	assert.Zero(t, rows[0].MarginUSD)
	assert.Equal(t, 1.0, rows[0].TotalCostUSD)

	pct, per := d/3, a+b
	econ := analytics.Economics{TotalCostUSD: a + b, GrossMarginPct: &pct, CostPerConversion: &per, RevenueByCurrency: map[string]float64{"EUR": a + e}}
	tidyEconomics(&econ)
	assert.Equal(t, 0.3, econ.TotalCostUSD)
	assert.Equal(t, 0.00333333333333333, *econ.GrossMarginPct)
	assert.Equal(t, 0.3, *econ.CostPerConversion)
	assert.Equal(t, 0.8, econ.RevenueByCurrency["EUR"])
}
