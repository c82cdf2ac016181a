package main

import (
	"context"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
)

// openStore opens the store the configuration names: a SQLite file, or a
// PostgreSQL database shared by replicas.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	return sqlite.Open(ctx, cfg.Database)
}
