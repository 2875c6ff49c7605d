package audit

import (
	"context"
	"database/sql"
	"fmt"
)

// Report is the result of checking every chain of a database.
type Report struct {
	Chains, Entries int
	// Breaks are the entries that do not continue their chain, in chain
	// order; empty when every chain is whole.
	Breaks []Break
	// Heads are the newest entry of every chain: resource → "seq:hash".
	// Kept outside the database, they let a later check see entries
	// removed from the end of a chain.
	Heads map[string]string
}

// Break is an entry that does not fit its chain.
type Break struct {
	Resource string
	Seq      int64
	Reason   string
}

func (b Break) String() string { return fmt.Sprintf("%s #%d: %s", b.Resource, b.Seq, b.Reason) }

// verifier checks entries fed in (resource, seq) order.
type verifier struct {
	r        Report
	resource string
	seq      int64
	hash     string
}

func (v *verifier) add(e Entry, changes []byte) {
	if e.Resource != v.resource {
		v.r.Chains++
		v.resource, v.seq, v.hash = e.Resource, 0, ""
	}
	v.r.Entries++
	switch {
	case e.Seq != v.seq+1:
		v.r.Breaks = append(v.r.Breaks, Break{e.Resource, e.Seq, fmt.Sprintf("follows #%d: entries are missing", v.seq)})
	case e.PrevHash != v.hash:
		v.r.Breaks = append(v.r.Breaks, Break{e.Resource, e.Seq, "does not link to the entry before (inserted or replaced)"})
	}
	if got := hash(e, changes); got != e.Hash {
		v.r.Breaks = append(v.r.Breaks, Break{e.Resource, e.Seq, "hash does not match its content (edited)"})
	}
	v.seq, v.hash = e.Seq, e.Hash
	v.r.Heads[e.Resource] = fmt.Sprintf("%d:%s", e.Seq, e.Hash)
}

const verifyQuery = `SELECT ` + columns + ` FROM audit_entries ORDER BY resource, seq`

// VerifySQLite checks every chain of an SQLite database.
func VerifySQLite(ctx context.Context, db *sql.DB) (Report, error) {
	v := verifier{r: Report{Heads: map[string]string{}}}
	rows, err := db.QueryContext(ctx, verifyQuery)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, changes, err := scanSQLite(rows)
		if err != nil {
			return Report{}, err
		}
		v.add(e, changes)
	}
	return v.r, rows.Err()
}

// VerifyPgx checks every chain of a PostgreSQL schema.
func VerifyPgx(ctx context.Context, db PgxQuerier) (Report, error) {
	v := verifier{r: Report{Heads: map[string]string{}}}
	rows, err := db.Query(ctx, verifyQuery)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, changes, err := scanPgx(rows)
		if err != nil {
			return Report{}, err
		}
		v.add(e, changes)
	}
	return v.r, rows.Err()
}
