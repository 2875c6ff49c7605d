package baseline

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/testdb"
)

// TestOrQuery checks that any lexeme, whatever characters it holds, becomes
// exactly one tsquery operand that matches that lexeme and nothing else.
func TestOrQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, lexeme := range []string{
		"plain", "o'brien", `back\slash`, `\'`, "a:b", "prefix:*", "x|y", "a & b", "!not", "(paren)", "<->", "ümlaut", " ",
	} {
		t.Run(lexeme, func(t *testing.T) {
			var matches, matchesOther bool
			var operands int
			err := conn.QueryRow(ctx, `
				SELECT array_to_tsvector(ARRAY[$1]) @@ $2::tsquery,
				       array_to_tsvector(ARRAY['other']) @@ $2::tsquery,
				       numnode($2::tsquery)`,
				lexeme, orQuery([]string{lexeme, "also"}),
			).Scan(&matches, &matchesOther, &operands)
			if err != nil {
				t.Fatalf("orQuery(%q) = %s: %v", lexeme, orQuery([]string{lexeme, "also"}), err)
			}
			if !matches || matchesOther || operands != 3 {
				t.Errorf("orQuery(%q) = %s: matches lexeme %v, matches other %v, %d nodes; want true, false, 3",
					lexeme, orQuery([]string{lexeme, "also"}), matches, matchesOther, operands)
			}
		})
	}
}
