package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/services/matching/relevance"
	"github.com/govmatch/govmatch/services/matching/relevance/baseline"
	"github.com/govmatch/govmatch/services/matching/score"
)

// pgFigures ranks needs with PostgreSQL full-text search over the same
// vendors (relevance/baseline.Postgres: a tsvector of name and description
// in the German configuration, a GIN index, OR-ed lexemes ordered by
// ts_rank_cd), one query per need, for at most c.PGQueries needs or
// c.PGBudget, whichever ends first. It reports why it skipped, if it did.
func pgFigures(ctx context.Context, c config, vendors []score.Vendor, needs []score.Need, f *Figures) (skipped string, err error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, c.DatabaseURL)
	cancel()
	if err != nil {
		return fmt.Sprintf("PostgreSQL at DATABASE_URL unreachable: %v", err), nil
	}
	_ = conn.Close(ctx)

	rv := make([]relevance.Vendor, len(vendors))
	for i, v := range vendors {
		rv[i] = relevance.Vendor{ID: v.ID, Name: v.Name, Description: v.Description, CPVCodes: v.CPVCodes}
	}
	start := time.Now()
	pg, err := baseline.NewPostgres(ctx, c.DatabaseURL, relevance.German, rv)
	if err != nil {
		return "", err
	}
	defer func() { _ = pg.Close(context.WithoutCancel(ctx)) }()
	f.PGLoadSeconds = time.Since(start).Seconds()

	var lat []time.Duration
	deadline := time.Now().Add(c.PGBudget)
	for i := 0; i < c.PGQueries && time.Now().Before(deadline); i++ {
		n := needs[i*len(needs)/c.PGQueries]
		t := time.Now()
		if _, err := pg.Rank(ctx, relevance.Need{ID: needID(i), Title: n.Title, Description: n.Description}, c.K); err != nil {
			return "", err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	f.PGQueries = len(lat)
	f.PGP50Ms = ms(quantile(lat, 0.50))
	f.PGP99Ms = ms(quantile(lat, 0.99))
	return "", nil
}
