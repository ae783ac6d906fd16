package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// tracingBackend stands in for the tracing backend of an existing
// collector (Tempo, Jaeger...): an OTLP/gRPC trace server that keeps what
// it receives.
type tracingBackend struct {
	ptraceotlp.UnimplementedGRPCServer
	mu    sync.Mutex
	spans map[string]ptrace.Span // by name
	res   map[string]map[string]any
}

func (b *tracingBackend) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rs := range req.Traces().ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				keep := ptrace.NewSpan()
				sp.CopyTo(keep)
				b.spans[sp.Name()] = keep
				b.res[sp.Name()] = rs.Resource().Attributes().AsRaw()
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

func (b *tracingBackend) span(t *testing.T, name string) (ptrace.Span, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.mu.Lock()
		sp, ok := b.spans[name]
		res := b.res[name]
		b.mu.Unlock()
		if ok {
			return sp, res
		}
		require.True(t, time.Now().Before(deadline), "the tracing backend never received %q", name)
		time.Sleep(100 * time.Millisecond)
	}
}

func startTracingBackend(t *testing.T) (*tracingBackend, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &tracingBackend{spans: map[string]ptrace.Span{}, res: map[string]map[string]any{}}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return b, ln.Addr().String()
}

// The README's "existing collector" example, run as it is written (only its
// addresses and path changed): the spans reach the existing tracing
// backend annotated and without content, and AgentPulse stores the
// conversation.
func TestExistingCollectorExample(t *testing.T) {
	root := repoRoot(t)
	example, err := os.ReadFile(filepath.Join(root, "config", "existing-collector.yaml"))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(readme), "```yaml\n"+string(example)+"```", "the README shows config/existing-collector.yaml as it is")

	backend, backendAddr := startTracingBackend(t)
	dir := t.TempDir()
	c := &collector{
		base:     "http://" + freePort(t),
		grpcAddr: freePort(t),
		prodKey:  "ap_prod_dropin-" + strings.Repeat("k", 20),
		dataDir:  dir,
	}
	config := string(example)
	for from, to := range map[string]string{
		"127.0.0.1:8080":      strings.TrimPrefix(c.base, "http://"),
		"127.0.0.1:4317":      c.grpcAddr,
		"tempo.internal:4317": backendAddr,
		"./data/clickhouse":   filepath.Join(dir, "clickhouse"),
	} {
		require.Contains(t, config, from)
		config = strings.ReplaceAll(config, from, to)
	}
	path := filepath.Join(dir, "collector.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))
	c.run(t, path, "AGENTPULSE_PRODUCT_KEY="+c.prodKey)
	t.Cleanup(func() { c.stop(t) })

	tn := turn{
		conversation: "conv-dropin", user: "u-dropin",
		question: "Can you check my contract for hidden fees?", answer: "Clause 7 adds a yearly fee.",
		model: "gpt-4o", input: 900, cached: 0, out: 140,
	}
	require.NoError(t, export(t, c.grpcAddr, c.prodKey, tn.record(t)))
	r := priceTable(t)["gpt-4o"]
	cost := (float64(tn.input)*r.Input + float64(tn.out)*r.Output) / 1e6

	// The existing backend gets every span, annotated.
	chat, res := backend.span(t, "chat gpt-4o")
	assert.Equal(t, "my-bot", res["agentpulse.product_id"], "the key's product, not the payload's")
	attrs := chat.Attributes().AsRaw()
	assert.Equal(t, "conv-dropin", attrs["agentpulse.session_id"])
	assert.Equal(t, "u-dropin", attrs["agentpulse.user_id"])
	assert.Equal(t, "action.llm_call", attrs["agentpulse.event_type"])
	assert.InDelta(t, cost, attrs["agentpulse.cost_usd"], 1e-12)
	assert.Equal(t, "computed", attrs["agentpulse.cost_status"])
	assert.EqualValues(t, tn.input, attrs["gen_ai.usage.input_tokens"])

	toolSpan, _ := backend.span(t, "execute_tool search_case_law")
	assert.Equal(t, "action.tool_call", toolSpan.Attributes().AsRaw()["agentpulse.event_type"])

	agent, _ := backend.span(t, "invoke_agent legal-assistant")
	agentAttrs := agent.Attributes().AsRaw()
	assert.Equal(t, "conv-dropin", agentAttrs["agentpulse.session_id"])
	// my-bot keeps no content: the messages are gone from the spans, and
	// noted by length only.
	assert.NotContains(t, agentAttrs, "gen_ai.input.messages")
	assert.NotContains(t, agentAttrs, "gen_ai.output.messages")
	lengths := map[string]any{}
	for _, ev := range agent.Events().All() {
		if ev.Name() == "agentpulse.message" {
			a := ev.Attributes().AsRaw()
			lengths[a["agentpulse.event_type"].(string)] = a["agentpulse.content_length"]
		}
	}
	assert.Equal(t, map[string]any{
		"message.user":  int64(len([]rune(tn.question))),
		"message.agent": int64(len([]rune(tn.answer))),
	}, lengths)

	// AgentPulse stored the conversation.
	got := c.waitFor(t, "/v1/sessions/conv-dropin", func(m map[string]any) bool { return m["llm_calls"] == 1.0 })
	assert.Equal(t, "u-dropin", got["user_id"])
	assert.EqualValues(t, 1, got["conversation_depth"])
	assert.EqualValues(t, 1, got["tool_calls"])
	assert.InDelta(t, cost, got["total_cost_usd"], 1e-12)
}
