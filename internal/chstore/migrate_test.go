package chstore

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
)

func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	err := s.query(t.Context(), "SELECT name FROM "+s.db+".schema_migrations ORDER BY version, name",
		func(r resultRows) error {
			var n string
			if err := r.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
			return nil
		})
	require.NoError(t, err)
	return names
}

func TestMigrationsAreIdempotent(t *testing.T) {
	s := newTestStore(t)
	all, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	var want []string
	for _, m := range all {
		want = append(want, m.name)
	}
	assert.Equal(t, want, appliedMigrations(t, s))

	// Running them again through the engine applies nothing and records
	// nothing twice.
	var n int
	err = s.with(func(eng engine) error {
		var err error
		n, err = migrate(t.Context(), eng, s.dbName)
		return err
	})
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, want, appliedMigrations(t, s))

	// A second Store on the same database shares the engine and the schema.
	again, err := Open(t.Context(), testConfig(s.dbName), zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, again.Close())
	assert.Equal(t, want, appliedMigrations(t, s))

	// A migration missing from the record is applied once.
	require.NoError(t, s.exec(t.Context(), "DELETE FROM "+s.db+".schema_migrations WHERE version = "+quoteInt(all[0].version)))
	err = s.with(func(eng engine) error {
		var err error
		n, err = migrate(t.Context(), eng, s.dbName)
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "statements use IF NOT EXISTS, so re-applying is harmless")
	assert.Equal(t, want, appliedMigrations(t, s))

	// A database dropped while the process runs is recreated by the next
	// Open.
	require.NoError(t, s.exec(t.Context(), "DROP DATABASE "+s.db))
	again, err = Open(t.Context(), testConfig(s.dbName), zap.NewNop())
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, want, appliedMigrations(t, again))
	require.NoError(t, again.Insert(t.Context(), []event.Event{{
		EventID: "e", SessionID: "s", EventType: event.TypeMessageUser, Timestamp: day0, UserID: "u", ProductID: "p",
	}}))
}

func TestLoadMigrations(t *testing.T) {
	good := fstest.MapFS{
		"migrations/0002_second.sql": {Data: []byte("-- comment only;\nCREATE TABLE {{database}}.b (x UInt8) ENGINE = Memory;\n")},
		"migrations/0001_first.sql": {Data: []byte("CREATE TABLE {{database}}.a (x String DEFAULT 'a;b') ENGINE = Memory;\n" +
			"\nALTER TABLE {{database}}.a ADD COLUMN y UInt8\n")},
	}
	ms, err := loadMigrations(good)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, int64(1), ms[0].version)
	assert.Equal(t, "0001_first", ms[0].name)
	assert.Equal(t, []string{
		"CREATE TABLE {{database}}.a (x String DEFAULT 'a;b') ENGINE = Memory",
		"ALTER TABLE {{database}}.a ADD COLUMN y UInt8",
	}, ms[0].statements)
	assert.Equal(t, []string{"CREATE TABLE {{database}}.b (x UInt8) ENGINE = Memory"}, ms[1].statements)

	for name, fsys := range map[string]fstest.MapFS{
		"is not named NNNN_name.sql": {"migrations/first.sql": {Data: []byte("SELECT 1")}},
		"have the same number": {
			"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
			"migrations/0001_b.sql": {Data: []byte("SELECT 1")},
		},
		"has no statement": {"migrations/0001_a.sql": {Data: []byte("-- nothing\n")}},
	} {
		_, err := loadMigrations(fsys)
		assert.ErrorContains(t, err, name)
	}
}
