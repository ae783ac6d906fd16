package agentpulseexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/exporter/agentpulseexporter/internal/metadata"
	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/chstore/chstoretest"
	"github.com/agentpulse/agentpulse/internal/event"
)

func TestMain(m *testing.M) {
	os.Exit(chstoretest.Main(m))
}

func storageConfig(database string) chstore.Config {
	return chstoretest.Config(database)
}

var dbCounter atomic.Int64

// testConfig is the default configuration on a fresh database of the
// shared directory.
func testConfig(t *testing.T) *Config {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = storageConfig(fmt.Sprintf("exp%d", dbCounter.Add(1)))
	return cfg
}

// startExporter builds the exporter as the factory does, keeping a handle
// on the implementation, starts it, and shuts it down when the test ends.
func startExporter(t *testing.T, cfg *Config) (exporter.Logs, *eventExporter) {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	impl, err := newEventExporter(cfg, set.TelemetrySettings)
	require.NoError(t, err)
	exp, err := newExporter(t.Context(), set, cfg, impl)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })
	return exp, impl
}

// reader opens the store the exporter writes to, as the query API does.
func reader(t *testing.T, cfg *Config) *chstore.Store {
	t.Helper()
	s, err := chstore.Open(t.Context(), cfg.Storage, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

var day0 = time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)

// session makes a session of n user messages, each followed by an LLM call
// of the given cost.
func session(product, id string, n int, cost float64) []event.Event {
	var out []event.Event
	for i := range n {
		at := day0.Add(time.Duration(i) * time.Minute)
		out = append(out,
			event.Event{EventID: fmt.Sprintf("%s-m%d", id, i), SessionID: id, EventType: event.TypeMessageUser,
				Timestamp: at, UserID: "u-" + id, ProductID: product, Properties: map[string]any{"content_length": int64(10)},
				Metadata: map[string]any{"channel": "whatsapp"}},
			event.Event{EventID: fmt.Sprintf("%s-c%d", id, i), SessionID: id, EventType: event.TypeLLMCall,
				Timestamp: at.Add(time.Second), UserID: "u-" + id, ProductID: product,
				Properties: map[string]any{"model": "gpt-4o", "input_tokens": int64(100)},
				CostUSD:    &cost, CostStatus: event.CostComputed},
		)
	}
	return out
}

// toLogs encodes events as the processor hands them on: the product as a
// resource attribute, one record per event.
func toLogs(events []event.Event) plog.Logs {
	ld := plog.NewLogs()
	byProduct := map[string]plog.ScopeLogs{}
	for i := range events {
		sl, ok := byProduct[events[i].ProductID]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(event.AttrProductID, events[i].ProductID)
			sl = rl.ScopeLogs().AppendEmpty()
			byProduct[events[i].ProductID] = sl
		}
		events[i].AppendTo(sl)
	}
	return ld
}

func TestExportedEventsAreReadable(t *testing.T) {
	cfg := testConfig(t)
	// The factory's own exporter, as a collector builds it.
	exp, err := NewFactory().CreateLogs(t.Context(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })

	a := session("bot", "a", 3, 0.01)
	b := session("bot", "b", 1, 0.02)
	other := session("other", "a", 2, 0.5)
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(append(append(a, b...), other...))))

	s := reader(t, cfg)
	sum, events, found, err := s.Session(t.Context(), "bot", "a", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	require.Len(t, events, len(a))
	for i := range a {
		assert.Equal(t, a[i].EventID, events[i].EventID)
		assert.Equal(t, a[i].EventType, events[i].EventType)
		assert.True(t, a[i].Timestamp.Equal(events[i].Timestamp.Time))
	}
	assert.Equal(t, int64(3), sum.ConversationDepth)
	assert.Equal(t, int64(3), sum.LLMCalls)
	assert.InDelta(t, 3*0.01, sum.TotalCostUSD, 1e-12)
	assert.Equal(t, map[string]any{"channel": "whatsapp"}, sum.Metadata)
	assert.Equal(t, "u-a", sum.UserID)

	econ, err := s.Economics(t.Context(), analytics.Filter{ProductID: "bot"}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), econ.Sessions, "the other product's session is not counted")
	assert.InDelta(t, 3*0.01+0.02, econ.TotalCostUSD, 1e-12)
}

func TestDuplicatesAreCountedOnce(t *testing.T) {
	cfg := testConfig(t)
	exp, _ := startExporter(t, cfg)

	events := session("bot", "s", 4, 0.25)
	// The client retries the whole request, then half of it.
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events)))
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events)))
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events[:4])))

	s := reader(t, cfg)
	sum, stored, found, err := s.Session(t.Context(), "bot", "s", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, stored, len(events))
	assert.Equal(t, int64(4), sum.ConversationDepth)
	assert.Equal(t, int64(4), sum.LLMCalls)
	assert.InDelta(t, 4*0.25, sum.TotalCostUSD, 1e-12)

	funnel, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "bot"}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), funnel[0].Sessions)
}

func TestRequestsAreBatchedIntoFewInserts(t *testing.T) {
	cfg := testConfig(t)
	exp, impl := startExporter(t, cfg)

	const requests, perRequest = 40, 3 // sessions of 3 messages: 6 events each
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for i := range requests {
		wg.Go(func() {
			errs <- exp.ConsumeLogs(context.Background(), toLogs(session("bot", fmt.Sprintf("s%02d", i), perRequest, 0.001)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "each request returns once its batch is stored")
	}

	t.Logf("%d requests became %d inserts", requests, impl.inserts.Load())
	// 40 concurrent requests arrive within the 100 ms flush timeout; with
	// one insert per request there would be 40.
	assert.LessOrEqual(t, impl.inserts.Load(), int64(10))
	assert.Equal(t, int64(requests*perRequest*2), impl.events.Load())

	s := reader(t, cfg)
	list, total, err := s.Sessions(t.Context(), analytics.Filter{ProductID: "bot"}, analytics.Options{}, 100, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(requests), total, "every request was stored when it returned")
	assert.Len(t, list, requests)
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	cfg := testConfig(t)
	// A retry would wait a minute; the test finishes long before.
	cfg.BackOffConfig.InitialInterval = time.Minute
	cfg.BackOffConfig.MaxElapsedTime = 5 * time.Minute
	exp, _ := startExporter(t, cfg)

	good := session("bot", "good", 1, 0.1)
	bad := good[0]
	bad.EventID, bad.SessionID = "no-session", ""
	plain := plog.NewLogs()
	plain.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("not an event")

	for name, ld := range map[string]plog.Logs{
		"event without session":   toLogs(append([]event.Event{bad}, good...)),
		"record that is no event": plain,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := exp.ConsumeLogs(t.Context(), ld)
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err), "%v", err)
			assert.ErrorContains(t, err, "cannot be stored")
			assert.Less(t, time.Since(start), 20*time.Second, "no retry happened")
		})
	}

	// The valid events of the rejected request were written.
	s := reader(t, cfg)
	_, stored, found, err := s.Session(t.Context(), "bot", "good", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, stored, len(good))
}

func TestStoreFailuresAreRetryable(t *testing.T) {
	cfg := testConfig(t)
	impl, err := newEventExporter(cfg, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	ld := toLogs(session("bot", "s", 1, 0))

	err = impl.pushLogs(t.Context(), ld)
	require.ErrorIs(t, err, errNotStarted)
	assert.False(t, consumererror.IsPermanent(err))

	require.NoError(t, impl.start(t.Context(), componenttest.NewNopHost()))
	require.NoError(t, impl.pushLogs(t.Context(), ld))
	require.NoError(t, impl.shutdown(t.Context()))
	// A store that is gone is not the data's fault: the queue retries.
	err = impl.pushLogs(t.Context(), ld)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "%v", err)
}

// outageExporter is the exporter as the factory builds it, with the insert
// failing as it does while a ClickHouse server is unreachable until up is
// set. (A server outage cannot be staged here: there is no server. The
// failure is injected at that boundary; the store behind it is real.)
func outageExporter(t *testing.T, cfg *Config, up *atomic.Bool, attempts *atomic.Int64) exporter.Logs {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	impl, err := newEventExporter(cfg, set.TelemetrySettings)
	require.NoError(t, err)
	push := func(ctx context.Context, ld plog.Logs) error {
		attempts.Add(1)
		if !up.Load() {
			return errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
		}
		return impl.pushLogs(ctx, ld)
	}
	exp, err := exporterhelper.NewLogs(t.Context(), set, cfg, push, helperOptions(cfg, impl)...)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })
	return exp
}

func TestOutageIsRetriedUntilStored(t *testing.T) {
	const outage = 1500 * time.Millisecond
	retryFast := func(cfg *Config) {
		cfg.BackOffConfig.InitialInterval = 20 * time.Millisecond
		cfg.BackOffConfig.MaxInterval = 50 * time.Millisecond
		cfg.BackOffConfig.RandomizationFactor = 0
	}

	t.Run("default: retried until storage is back", func(t *testing.T) {
		cfg := testConfig(t)
		retryFast(cfg)
		var up atomic.Bool
		var attempts atomic.Int64
		exp := outageExporter(t, cfg, &up, &attempts)
		time.AfterFunc(outage, func() { up.Store(true) })

		events := session("bot", "during-outage", 3, 0.5)
		start := time.Now()
		// The request waits for its batch (wait_for_result), so it returns
		// only once the batch is stored after the outage.
		require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events)))
		assert.GreaterOrEqual(t, time.Since(start), outage)
		// 20, 30, 45, then 50 ms apart: at least outage/50ms attempts.
		assert.GreaterOrEqual(t, attempts.Load(), int64(outage/(50*time.Millisecond)))

		s := reader(t, cfg)
		sum, stored, found, err := s.Session(t.Context(), "bot", "during-outage", analytics.Options{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Len(t, stored, len(events))
		assert.InDelta(t, 3*0.5, sum.TotalCostUSD, 1e-12)
	})

	t.Run("max_elapsed_time shorter than the outage: dropped", func(t *testing.T) {
		cfg := testConfig(t)
		retryFast(cfg)
		cfg.BackOffConfig.MaxElapsedTime = 300 * time.Millisecond
		var up atomic.Bool
		var attempts atomic.Int64
		exp := outageExporter(t, cfg, &up, &attempts)
		time.AfterFunc(outage, func() { up.Store(true) })

		err := exp.ConsumeLogs(t.Context(), toLogs(session("bot", "dropped", 2, 0.5)))
		require.Error(t, err)
		assert.ErrorContains(t, err, "no more retries left")
		time.Sleep(outage + 200*time.Millisecond)
		s := reader(t, cfg)
		_, _, found, err := s.Session(t.Context(), "bot", "dropped", analytics.Options{})
		require.NoError(t, err)
		assert.False(t, found, "the batch was given up, not stored later")
	})
}

func TestStartFailsOnAnotherEmbeddedPath(t *testing.T) {
	cfg := testConfig(t)
	cfg.Storage.Path = t.TempDir()
	exp, err := NewFactory().CreateLogs(t.Context(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = exp.Start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.ErrorContains(t, err, "failed to open the store")
	assert.ErrorContains(t, err, "already open at")
	require.NoError(t, exp.Shutdown(t.Context()))
}

func TestWithoutQueue(t *testing.T) {
	cfg := testConfig(t)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, impl := startExporter(t, cfg)

	events := session("bot", "direct", 2, 0.3)
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events)))
	require.NoError(t, exp.ConsumeLogs(t.Context(), toLogs(events)))
	assert.Equal(t, int64(2), impl.inserts.Load(), "without a queue, one insert per request")
	s := reader(t, cfg)
	_, stored, found, err := s.Session(t.Context(), "bot", "direct", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, stored, len(events))
}
