package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
)

const selectResponse = `SELECT need_id, vendor, summary, indicative_price_eur, contact_email, state,
	create_time, update_time, revision FROM need_responses`

func scanResponse(row pgx.Row) (*need.Response, error) {
	var r need.Response
	var state int16
	if err := row.Scan(&r.NeedID, &r.Vendor, &r.Summary, &r.IndicativePriceEUR, &r.ContactEmail, &state,
		&r.CreateTime, &r.UpdateTime, &r.Revision); err != nil {
		return nil, err
	}
	r.State = need.ResponseState(state)
	r.CreateTime, r.UpdateTime = sqlstore.Time(r.CreateTime), sqlstore.Time(r.UpdateTime)
	return &r, nil
}

// UpdateResponse implements need.Store. The need's row lock is held from
// the first read, so a close of the need waits for this transaction and
// fn's deadline check stays true until commit.
func (s *Store) UpdateResponse(ctx context.Context, needID, vendor string, fn func(*need.Need, *need.Response) (*need.Response, error)) (*need.Response, error) {
	var stored *need.Response
	var emitted bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := lockNeed(ctx, tx, needID)
		if err != nil {
			return err
		}
		cur, err := scanResponse(tx.QueryRow(ctx, selectResponse+` WHERE need_id = $1 AND vendor = $2`, needID, vendor))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			cur = nil
		case err != nil:
			return err
		}
		var before *need.Response
		if cur != nil {
			c := *cur
			before = &c
		}
		r, err := fn(n, cur)
		if err != nil {
			return sqlstore.FnError(err)
		}
		r.NeedID, r.Vendor = needID, vendor
		r.CreateTime, r.UpdateTime = sqlstore.Time(r.CreateTime), sqlstore.Time(r.UpdateTime)
		_, err = tx.Exec(ctx, `INSERT INTO need_responses
			(need_id, vendor, summary, indicative_price_eur, contact_email, state, create_time, update_time, revision)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (need_id, vendor) DO UPDATE SET summary = excluded.summary,
				indicative_price_eur = excluded.indicative_price_eur, contact_email = excluded.contact_email,
				state = excluded.state, create_time = excluded.create_time,
				update_time = excluded.update_time, revision = excluded.revision`,
			r.NeedID, r.Vendor, r.Summary, r.IndicativePriceEUR, r.ContactEmail, int16(r.State),
			r.CreateTime, r.UpdateTime, r.Revision)
		if err != nil {
			return err
		}
		stored = r
		if err := s.record(ctx, tx, need.ResponseName(needID, vendor), before, r); err != nil {
			return err
		}
		emitted, err = s.emit(ctx, tx, needID, func(v int64) ([]outbox.Record, error) {
			return s.events.ForResponse(ctx, v, n, before, r)
		})
		return err
	})
	if err != nil {
		return nil, mapError(err, "write response to need", needID)
	}
	s.committed(emitted)
	return stored, nil
}

// GetResponse implements need.Store.
func (s *Store) GetResponse(ctx context.Context, needID, vendor string) (*need.Response, error) {
	r, err := scanResponse(s.pool.QueryRow(ctx, selectResponse+` WHERE need_id = $1 AND vendor = $2`, needID, vendor))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, need.ResponseNotFound(needID, vendor)
	}
	if err != nil {
		return nil, mapError(err, "get response to need", needID)
	}
	return r, nil
}

// ListResponses implements need.Store.
func (s *Store) ListResponses(ctx context.Context, q need.ResponseQuery) ([]*need.Response, error) {
	var w sqlstore.Where
	if q.NeedID != "" {
		w.Add(`need_id = ` + w.Arg(q.NeedID))
	}
	if q.Vendor != "" {
		w.Add(`vendor = ` + w.Arg(q.Vendor))
	}
	if q.OnlySubmitted {
		w.Add(`state = ` + w.Arg(int16(need.ResponseSubmitted)))
	}
	if c := q.After; c != nil {
		w.Add(`(create_time, need_id, vendor) < (` + w.Arg(c.CreateTime) + `, ` + w.Arg(c.NeedID) + `, ` + w.Arg(c.Vendor) + `)`)
	}
	sql := selectResponse + w.SQL() + ` ORDER BY create_time DESC, need_id DESC, vendor DESC LIMIT ` + w.Arg(max(q.Limit, 1))
	rows, err := s.pool.Query(ctx, sql, w.Args...)
	if err != nil {
		return nil, mapError(err, "list responses", "")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*need.Response, error) { return scanResponse(row) })
	if err != nil {
		return nil, mapError(err, "list responses", "")
	}
	return out, nil
}
