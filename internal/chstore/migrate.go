package chstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered file of migrations/. Its statements are
// separated by a semicolon at the end of a line; {{database}} stands for the
// quoted database name.
type migration struct {
	version    int64
	name       string
	statements []string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads and orders the migration files of fsys.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("failed to list migrations: %w", err)
	}
	var out []migration
	seen := map[int64]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		version, _ := strconv.ParseInt(m[1], 10, 64)
		if prev, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations %q and %q have the same number", prev, e.Name())
		}
		seen[version] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("failed to read migration %q: %w", e.Name(), err)
		}
		stmts := splitStatements(string(b))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %q has no statement", e.Name())
		}
		out = append(out, migration{version: version, name: strings.TrimSuffix(e.Name(), ".sql"), statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

var statementEnd = regexp.MustCompile(`;[ \t]*(\r?\n|$)`)

// splitStatements cuts a file at semicolons that end a line and drops the
// pieces that hold only comments.
func splitStatements(text string) []string {
	var out []string
	for _, piece := range statementEnd.Split(text, -1) {
		if hasCode(piece) {
			out = append(out, strings.TrimSpace(piece))
		}
	}
	return out
}

func hasCode(piece string) bool {
	for _, line := range strings.Split(piece, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}

// migrate creates the database and its schema_migrations table, then
// applies, in order, each migration not recorded there. Statements are
// written with IF NOT EXISTS, so two processes racing on one server do no
// harm. It returns the number of migrations applied.
func migrate(ctx context.Context, eng engine, database string) (int, error) {
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0, err
	}
	db := quoteIdent(database)
	setup := []sqlText{
		"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + ".schema_migrations (" +
			"version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)" +
			") ENGINE = MergeTree ORDER BY version",
	}
	for _, stmt := range setup {
		if err := eng.exec(ctx, stmt); err != nil {
			return 0, fmt.Errorf("failed to prepare database %s: %w", database, err)
		}
	}

	applied, err := appliedVersions(ctx, eng, db)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		for _, stmt := range m.statements {
			sql := sqlText(strings.ReplaceAll(stmt, "{{database}}", string(db)))
			if err := eng.exec(ctx, sql); err != nil {
				return n, fmt.Errorf("failed to apply migration %s: %w", m.name, err)
			}
		}
		record := "INSERT INTO " + db + ".schema_migrations (version, name) VALUES (" +
			quoteInt(m.version) + ", " + quoteString(m.name) + ")"
		if err := eng.exec(ctx, record); err != nil {
			return n, fmt.Errorf("failed to record migration %s: %w", m.name, err)
		}
		n++
	}
	return n, nil
}

func appliedVersions(ctx context.Context, eng engine, db sqlText) (map[int64]bool, error) {
	rows, err := eng.query(ctx, "SELECT DISTINCT toInt64(version) FROM "+db+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("failed to read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("failed to read applied migrations: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}
