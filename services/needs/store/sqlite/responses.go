package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
)

const selectResponse = `SELECT need_id, vendor, summary, indicative_price_eur, contact_email, state,
	create_time, update_time, revision FROM need_responses`

func scanResponse(row scanner) (*need.Response, error) {
	var r need.Response
	var created, updated int64
	if err := row.Scan(&r.NeedID, &r.Vendor, &r.Summary, &r.IndicativePriceEUR, &r.ContactEmail, &r.State,
		&created, &updated, &r.Revision); err != nil {
		return nil, err
	}
	r.CreateTime, r.UpdateTime = sqlstore.FromMicros(&created), sqlstore.FromMicros(&updated)
	return &r, nil
}

// UpdateResponse implements need.Store. BEGIN IMMEDIATE holds the write
// lock from the first read, so the need cannot change under fn.
func (s *Store) UpdateResponse(ctx context.Context, needID, vendor string, fn func(*need.Need, *need.Response) (*need.Response, error)) (*need.Response, error) {
	var stored *need.Response
	var emitted bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := loadNeed(ctx, tx, needID)
		if err != nil {
			return err
		}
		cur, err := scanResponse(tx.QueryRowContext(ctx, selectResponse+` WHERE need_id = ? AND vendor = ?`, needID, vendor))
		switch {
		case errors.Is(err, sql.ErrNoRows):
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
		_, err = tx.ExecContext(ctx, `INSERT INTO need_responses
			(need_id, vendor, summary, indicative_price_eur, contact_email, state, create_time, update_time, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (need_id, vendor) DO UPDATE SET summary = excluded.summary,
				indicative_price_eur = excluded.indicative_price_eur, contact_email = excluded.contact_email,
				state = excluded.state, create_time = excluded.create_time,
				update_time = excluded.update_time, revision = excluded.revision`,
			r.NeedID, r.Vendor, r.Summary, r.IndicativePriceEUR, r.ContactEmail, int64(r.State),
			r.CreateTime.UnixMicro(), r.UpdateTime.UnixMicro(), r.Revision)
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
	r, err := scanResponse(s.read.QueryRowContext(ctx, selectResponse+` WHERE need_id = ? AND vendor = ?`, needID, vendor))
	if errors.Is(err, sql.ErrNoRows) {
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
		w.Add(`need_id = ?`, q.NeedID)
	}
	if q.Vendor != "" {
		w.Add(`vendor = ?`, q.Vendor)
	}
	if q.OnlySubmitted {
		w.Add(`state = ?`, int64(need.ResponseSubmitted))
	}
	if c := q.After; c != nil {
		w.Add(`(create_time, need_id, vendor) < (?, ?, ?)`, c.CreateTime.UnixMicro(), c.NeedID, c.Vendor)
	}
	rows, err := s.read.QueryContext(ctx, selectResponse+w.SQL()+
		` ORDER BY create_time DESC, need_id DESC, vendor DESC LIMIT ?`, append(w.Args, max(q.Limit, 1))...)
	if err != nil {
		return nil, mapError(err, "list responses", "")
	}
	defer rows.Close()
	var out []*need.Response
	for rows.Next() {
		r, err := scanResponse(rows)
		if err != nil {
			return nil, mapError(err, "list responses", "")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err, "list responses", "")
	}
	return out, nil
}
