// Package sqlstore holds the small helpers that the registries' SQL stores
// share, for both engines (SQLite and PostgreSQL): a WHERE clause builder
// that always binds values as parameters, full-text and LIKE query text,
// the column encodings of times and string lists, and the mapping of driver
// errors to the sentinels of errdefs.
//
// It holds helpers, not store logic: SQL statements, row scanning and
// anything that knows a domain type stay in each service's engine packages.
package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Where collects the conditions of a query and their arguments, which are
// always bound as parameters, never put into the SQL text. With SQLite, give
// Add conditions with "?" placeholders and their arguments; with PostgreSQL,
// Arg adds an argument and returns its "$n" placeholder for the condition.
type Where struct {
	conds []string
	// Args are the arguments of the conditions, in the order of their
	// placeholders; append those of clauses that follow the WHERE clause.
	Args []any
}

// Add adds the condition cond, whose "?" placeholders take args.
func (w *Where) Add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.Args = append(w.Args, args...)
}

// Arg adds the argument v and returns its PostgreSQL placeholder, "$n".
func (w *Where) Arg(v any) string {
	w.Args = append(w.Args, v)
	return "$" + strconv.Itoa(len(w.Args))
}

// SQL is the WHERE clause of the conditions, joined with AND, on a line of
// its own; "" without conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(w.conds, "\n  AND ")
}

// Placeholders is the list of n SQLite placeholders: "?, ?, ?" for 3.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Anys returns the elements of l as arguments of a query.
func Anys[T any](l []T) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// LikePrefix is a LIKE pattern, without the trailing "%", that matches p
// literally; use it with ESCAPE '\'. A filter value must never turn into a
// wildcard.
func LikePrefix(p string) string {
	return likeEscaper.Replace(p)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchWords splits the words of a query with split, the function that
// splits the indexed text, and drops repeats, so that "Bürger-Portal" looks
// for "bürger" and "portal".
func SearchWords(words []string, split func(string) []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, w := range words {
		for _, p := range split(w) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// FTS5Query is the SQLite FTS5 query that finds all words, each as a word or
// the start of one: "bürger"* "portal"* (juxtaposition is AND). The words
// must be letters and digits only (SearchWords with the domain's split), so
// that quoting cannot break; pass the query as a parameter all the same.
func FTS5Query(words []string) string {
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"*`
	}
	return strings.Join(terms, " ")
}

// TSQuery is the PostgreSQL to_tsquery text that finds all words, each as a
// word or the start of one: 'bürger':* & 'portal':*. The words must be
// letters and digits only, as for FTS5Query.
func TSQuery(words []string) string {
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = "'" + w + "':*"
	}
	return strings.Join(terms, " & ")
}

// JSONList is the JSON column value of a list of strings: always an array,
// "[]" for nil.
func JSONList(l []string) string {
	if l == nil {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}

// ParseJSONList reads a column written by JSONList; an empty array is nil.
func ParseJSONList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("list column %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
