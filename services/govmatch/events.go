package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
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

// events runs `govmatch events status`: the outbox backlog of every
// service and how far every consumer group is behind.
func events(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "status" {
		return errors.New("usage: govmatch events status")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
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
		pc, err := pgx.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return outbox.Backlog{}, err
		}
		pc.RuntimeParams["search_path"] = source
		return outbox.NewPostgres(pc).Backlog(ctx)
	}
	path := cfg.sqlitePath(source)
	if _, err := os.Stat(path); err != nil {
		return outbox.Backlog{}, fmt.Errorf("no database at %s", path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return outbox.Backlog{}, err
	}
	defer db.Close()
	return outbox.NewSQLite(db).Backlog(ctx)
}
