package main

import (
	"context"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/postgres"
	"github.com/pmsync/pmsync/store/sqlite"
)

// openStore opens the store the configuration names: a SQLite file, or a
// PostgreSQL database shared by replicas.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if url := cfg.PostgresURL(); url != "" {
		return postgres.Open(ctx, url.Reveal())
	}
	return sqlite.Open(ctx, cfg.Database)
}

// openReadStore opens the store for a command that only reads it: a
// missing database is an error, nothing is created or migrated, and a
// writer's lock does not hold it up.
func openReadStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if url := cfg.PostgresURL(); url != "" {
		return postgres.OpenReadOnly(ctx, url.Reveal())
	}
	return sqlite.OpenReadOnly(ctx, cfg.Database)
}
