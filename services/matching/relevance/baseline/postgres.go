package baseline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/services/matching/relevance"
)

// textSearchConfigs are PostgreSQL's stock text search configurations per
// language (Snowball stemmer and stop words).
var textSearchConfigs = map[relevance.Language]string{
	relevance.English: "english",
	relevance.German:  "german",
}

// Postgres ranks vendors with PostgreSQL full-text search: a tsvector of
// each vendor's name and description in the language's configuration,
// matched against the need's words OR-ed together and ordered by
// ts_rank_cd.
//
// The vendors live in a temporary table of one connection, so Postgres
// serializes its queries; Close drops the table with the connection.
type Postgres struct {
	config string

	mu   sync.Mutex
	conn *pgx.Conn
}

var _ relevance.Ranker = (*Postgres)(nil)

// NewPostgres connects to the database at dsn and loads vendors into a
// temporary table there. It writes nothing that outlives the connection.
func NewPostgres(ctx context.Context, dsn string, lang relevance.Language, vendors []relevance.Vendor) (_ *Postgres, err error) {
	config, ok := textSearchConfigs[lang]
	if !ok {
		return nil, unsupported("postgres", lang)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("baseline: postgres: connect: %w", err)
	}
	defer func() {
		if err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()

	if _, err := conn.Exec(ctx, `
		CREATE TEMPORARY TABLE relevance_vendor (
			id          text PRIMARY KEY,
			name        text NOT NULL,
			description text NOT NULL,
			document    tsvector
		)`); err != nil {
		return nil, fmt.Errorf("baseline: postgres: create table: %w", err)
	}
	rows := make([][]any, len(vendors))
	for i, v := range vendors {
		rows[i] = []any{v.ID, v.Name, v.Description}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"relevance_vendor"},
		[]string{"id", "name", "description"}, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("baseline: postgres: copy vendors: %w", err)
	}
	// The same text the BM25 baseline indexes: name, a line break,
	// description.
	if _, err := conn.Exec(ctx, `
		UPDATE relevance_vendor
		SET document = to_tsvector($1::regconfig, name || E'\n' || description)`, config); err != nil {
		return nil, fmt.Errorf("baseline: postgres: build tsvectors: %w", err)
	}
	// The index changes no result; it is there because a real deployment
	// would have it.
	if _, err := conn.Exec(ctx, `CREATE INDEX ON relevance_vendor USING gin (document)`); err != nil {
		return nil, fmt.Errorf("baseline: postgres: create index: %w", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE relevance_vendor`); err != nil {
		return nil, fmt.Errorf("baseline: postgres: analyze: %w", err)
	}
	return &Postgres{config: config, conn: conn}, nil
}

// Close closes the connection, which drops the temporary table.
func (p *Postgres) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn.Close(ctx)
}

// Rank returns the ids of the k vendors whose tsvector matches any of the
// need's lexemes, by ts_rank_cd (no normalization), ties broken by id.
func (p *Postgres) Rank(ctx context.Context, need relevance.Need, k int) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	// The lexemes come from the same to_tsvector as the vendors', so the
	// query stems and drops stop words exactly as the documents do.
	var lexemes []string
	if err := p.conn.QueryRow(ctx,
		`SELECT tsvector_to_array(to_tsvector($1::regconfig, $2))`,
		p.config, needText(need),
	).Scan(&lexemes); err != nil {
		return nil, fmt.Errorf("baseline: postgres: lexemes of need %s: %w", need.ID, err)
	}
	if len(lexemes) == 0 {
		return nil, nil
	}

	rows, err := p.conn.Query(ctx, `
		SELECT id
		FROM relevance_vendor
		WHERE document @@ $1::tsquery
		ORDER BY ts_rank_cd(document, $1::tsquery) DESC, id
		LIMIT $2`, orQuery(lexemes), k)
	if err != nil {
		return nil, fmt.Errorf("baseline: postgres: search need %s: %w", need.ID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("baseline: postgres: search need %s: %w", need.ID, err)
	}
	return ids, nil
}

// orQuery writes lexemes as tsquery input that matches any of them. Each
// lexeme is quoted, with backslashes and quotes escaped, so that no
// character in it is read as an operator, a weight or a prefix mark; cast
// with ::tsquery (not to_tsquery) it is taken as it is, already normalized.
func orQuery(lexemes []string) string {
	var b strings.Builder
	for i, l := range lexemes {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteByte('\'')
		for _, r := range l {
			switch r {
			case '\\':
				b.WriteString(`\\`)
			case '\'':
				b.WriteString(`''`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('\'')
	}
	return b.String()
}
