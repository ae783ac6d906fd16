package queryapi

import (
	"context"

	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/chstore"
)

// storageConfig is the storage section of the configuration.
type storageConfig = chstore.Config

func defaultStorageConfig() storageConfig {
	return chstore.NewDefaultConfig()
}

// store is what the extension needs of the ClickHouse store.
type store interface {
	analytics.Querier
	Close() error
}

var _ store = (*chstore.Store)(nil)

// openStore opens the store; in embedded mode it shares the process's
// engine with the exporter.
func openStore(ctx context.Context, cfg storageConfig, logger *zap.Logger) (store, error) {
	st, err := chstore.Open(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}

	return st, nil
}

// isPermanent reports whether a store error is one that no retry can fix,
// such as a query the engine cannot run.
func isPermanent(err error) bool {
	return chstore.IsPermanent(err)
}
