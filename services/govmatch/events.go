package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // the driver of the embedded databases

	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/outbox"
)

// eventSources are the services that publish events. Each keeps its outbox
// in its own database: a PostgreSQL schema or an SQLite file of that name.
var eventSources = []string{TargetNeeds, TargetVendors}

const eventsUsage = "usage: govmatch events status | deadletters | replay ID... | replay -all"

// events runs `govmatch events SUBCOMMAND`: status, deadletters, replay.
func events(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(eventsUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch args[0] {
	case "status":
		if len(args) != 1 {
			return errors.New(eventsUsage)
		}
		return eventsStatus(ctx, cfg, stdout)
	case "deadletters":
		if len(args) != 1 {
			return errors.New(eventsUsage)
		}
		return withDeadLetters(ctx, cfg, func(dls eventbus.DeadLetters) error { return listDeadLetters(ctx, dls, stdout) })
	case "replay":
		ids := args[1:]
		if len(ids) == 0 || (slices.Contains(ids, "-all") && len(ids) != 1) {
			return errors.New(eventsUsage)
		}
		if ids[0] == "-all" {
			ids = []string{""} // the empty filter: every dead letter
		}
		return withDeadLetters(ctx, cfg, func(dls eventbus.DeadLetters) error {
			for _, id := range ids {
				n, err := dls.RequestReplay(ctx, eventbus.Filter{ID: id})
				if err != nil {
					return err
				}
				if n == 0 && id != "" {
					return fmt.Errorf("no dead letter with id %q", id)
				}
				what := "dead letter " + id
				if id == "" {
					what = fmt.Sprintf("all %d dead letters", n)
				}
				fmt.Fprintf(stdout, "replay requested for %s; the running consumers take it up within a second\n", what)
			}
			return nil
		})
	default:
		return errors.New(eventsUsage)
	}
}

// withDeadLetters opens the dead letters where the server keeps them,
// next to a live server.
func withDeadLetters(ctx context.Context, cfg Config, f func(eventbus.DeadLetters) error) error {
	if cfg.RedisURL == "" {
		if _, err := os.Stat(cfg.deadLettersPath()); err != nil {
			return fmt.Errorf("no dead letters at %s (GOVMATCH_DATA_DIR): %w", cfg.deadLettersPath(), err)
		}
	}
	var rdb *redis.Client
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return err
		}
		rdb = redis.NewClient(opts)
		defer rdb.Close()
	}
	dls, closeDLs, err := openDeadLetters(ctx, cfg, rdb)
	if err != nil {
		return err
	}
	defer closeDLs()
	return f(dls)
}

// listDeadLetters prints every dead letter, oldest first.
func listDeadLetters(ctx context.Context, dls eventbus.DeadLetters, stdout io.Writer) error {
	list, err := dls.List(ctx, eventbus.Filter{})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTREAM\tGROUP\tAGGREGATE\tATTEMPTS\tFIRST FAILURE\tLAST FAILURE\tREPLAY\tLAST ERROR")
	for _, dl := range list {
		replay := "-"
		if !dl.ReplayRequested.IsZero() {
			replay = "requested"
		}
		msg := dl.LastError
		if r := []rune(msg); len(r) > 80 {
			msg = string(r[:79]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", dl.ID, dl.Stream, dl.Group, dl.Aggregate, dl.Attempts,
			dl.FirstFailure.Format(time.RFC3339), dl.LastFailure.Format(time.RFC3339), replay, strings.ReplaceAll(msg, "\n", " "))
	}
	return tw.Flush()
}

// eventsStatus prints the outbox backlog of every service and how far
// every consumer group is behind.
func eventsStatus(ctx context.Context, cfg Config, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tOUTBOX BACKLOG\tOLDEST EVENT")
	for _, src := range eventSources {
		b, err := backlog(ctx, cfg, src)
		if err != nil {
			fmt.Fprintf(tw, "%s\t?\t%v\n", src, err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", src, b.Count, b.OldestAge.Round(time.Millisecond))
	}
	fmt.Fprintln(tw)
	if cfg.RedisURL == "" {
		fmt.Fprintln(tw, "Consumers run in-process (no REDIS_URL); their lag is in /metrics (eventbus_consumer_*).")
		return tw.Flush()
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return err
	}
	client := redis.NewClient(opts)
	defer client.Close()
	bus := eventbus.NewRedisStreams(client, eventbus.RedisOptions{Prefix: cfg.RedisPrefix})
	fmt.Fprintln(tw, "STREAM\tGROUP\tLAG\tPENDING\tCONSUMERS")
	for _, src := range eventSources {
		groups, err := bus.Lag(ctx, src)
		if err != nil {
			fmt.Fprintf(tw, "%s\t?\t%v\t\t\n", src, err)
			continue
		}
		if len(groups) == 0 {
			fmt.Fprintf(tw, "%s\t(no consumer groups)\t\t\t\n", src)
		}
		for _, g := range groups {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", src, g.Group, g.Lag, g.Pending, g.Consumers)
		}
	}
	return tw.Flush()
}

// backlog reads the outbox of one service without opening its store, so
// the command runs next to a live server and never migrates anything.
func backlog(ctx context.Context, cfg Config, source string) (outbox.Backlog, error) {
	if cfg.DatabaseURL != "" {
		pc, err := pgConfig(cfg, source)
		if err != nil {
			return outbox.Backlog{}, err
		}
		return outbox.NewPostgres(pc).Backlog(ctx)
	}
	db, err := openReadOnly(cfg, source)
	if err != nil {
		return outbox.Backlog{}, err
	}
	defer db.Close()
	return outbox.NewSQLite(db).Backlog(ctx)
}

// pgConfig is DATABASE_URL with the schema of source as search path.
func pgConfig(cfg Config, source string) (*pgx.ConnConfig, error) {
	pc, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pc.RuntimeParams["search_path"] = source
	return pc, nil
}

// openReadOnly opens the SQLite database of source read-only, beside a
// live server, or says that there is none.
func openReadOnly(cfg Config, source string) (*sql.DB, error) {
	path := cfg.sqlitePath(source)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s", path)
	}
	return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
}
