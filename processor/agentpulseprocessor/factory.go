package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor/internal/metadata"
)

// NewFactory returns the factory of the agentpulse processor.
func NewFactory() processor.Factory {
	r := &registry{cores: make(map[component.ID]*sharedCore)}
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithLogs(r.createLogs, metadata.LogsStability),
		processor.WithTraces(r.createTraces, metadata.TracesStability),
	)
}

// registry lets every pipeline that names the same processor share one
// core, so that a user's sessions are the same whichever pipeline carries
// their events.
type registry struct {
	mu    sync.Mutex
	cores map[component.ID]*sharedCore
}

type sharedCore struct {
	*core
	refs int
}

func (r *registry) acquire(set processor.Settings, cfg *Config) (*core, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sc, ok := r.cores[set.ID]; ok {
		sc.refs++
		return sc.core, nil
	}
	c, err := newCore(cfg, set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r.cores[set.ID] = &sharedCore{core: c, refs: 1}

	return c, nil
}

func (r *registry) release(id component.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc, ok := r.cores[id]
	if !ok {
		return
	}
	if sc.refs--; sc.refs == 0 {
		sc.shutdown()
		delete(r.cores, id)
	}
}

func (r *registry) createLogs(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Logs,
) (processor.Logs, error) {
	return withCore(r, set, cfg.(*Config), func(c *core, opts ...processorhelper.Option) (processor.Logs, error) {
		p := &logsProcessor{core: c}
		return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs, opts...)
	})
}

func (r *registry) createTraces(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Traces,
) (processor.Traces, error) {
	return withCore(r, set, cfg.(*Config), func(c *core, opts ...processorhelper.Option) (processor.Traces, error) {
		p := newTracesProcessor(c, cfg.(*Config))
		return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces, opts...)
	})
}

// withCore builds one signal's processor on the core shared by set.ID; the
// core is released when that processor shuts down (or fails to build).
func withCore[P any](
	r *registry,
	set processor.Settings,
	cfg *Config,
	build func(c *core, opts ...processorhelper.Option) (P, error),
) (P, error) {
	var zero P
	c, err := r.acquire(set, cfg)
	if err != nil {
		return zero, err
	}
	var once sync.Once

	proc, err := build(c,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(func(context.Context) error {
			once.Do(func() { r.release(set.ID) })
			return nil
		}),
	)
	if err != nil {
		r.release(set.ID)
		return zero, err
	}

	return proc, nil
}
