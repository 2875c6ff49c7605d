package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/audit"
)

// auditSources are the services that keep an audit trail, each in its own
// database: a PostgreSQL schema or an SQLite file of that name.
var auditSources = []string{TargetNeeds, TargetVendors}

// errAuditBroken makes `govmatch audit verify` exit non-zero.
var errAuditBroken = errors.New("audit trail broken")

// auditCmd runs `govmatch audit verify [-heads]`: it checks every hash
// chain of every service's audit trail, next to a live server, and fails
// on the first database with a break, listing each.
func auditCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	heads := slices.Contains(args, "-heads")
	if len(args) == 0 || args[0] != "verify" || len(args) > 2 || (len(args) == 2 && !heads) {
		return errors.New("usage: govmatch audit verify [-heads]")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	broken := false
	for _, src := range auditSources {
		rep, err := verifyAudit(ctx, cfg, src)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		status := "ok"
		if len(rep.Breaks) > 0 {
			status, broken = fmt.Sprintf("BROKEN (%d)", len(rep.Breaks)), true
		}
		fmt.Fprintf(stdout, "%s: %d chains, %d entries: %s\n", src, rep.Chains, rep.Entries, status)
		for _, b := range rep.Breaks {
			fmt.Fprintf(stdout, "  %s\n", b)
		}
		if heads {
			// Kept elsewhere, the heads reveal entries cut off the end of a
			// chain, which the chain alone cannot.
			keys := make([]string, 0, len(rep.Heads))
			for k := range rep.Heads {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(stdout, "  head %s %s\n", k, rep.Heads[k])
			}
		}
	}
	if broken {
		return errAuditBroken
	}
	return nil
}

// verifyAudit reads one service's trail without opening its store, so it
// never migrates anything.
func verifyAudit(ctx context.Context, cfg Config, source string) (audit.Report, error) {
	if cfg.DatabaseURL != "" {
		pc, err := pgConfig(cfg, source)
		if err != nil {
			return audit.Report{}, err
		}
		conn, err := pgx.ConnectConfig(ctx, pc)
		if err != nil {
			return audit.Report{}, err
		}
		defer conn.Close(context.Background())
		return audit.VerifyPgx(ctx, conn)
	}
	db, err := openReadOnly(cfg, source)
	if err != nil {
		return audit.Report{}, err
	}
	defer db.Close()
	return audit.VerifySQLite(ctx, db)
}
