package sqlstore

import "time"

// Time is t as the stores keep it: in UTC, at microsecond precision, which
// is what both a PostgreSQL timestamptz and the SQLite encoding (ToMicros)
// hold. The zero time stays zero.
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ToMicros is the SQLite column value of t, microseconds since the Unix
// epoch; NULL (nil) for the zero time.
func ToMicros(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	us := t.UnixMicro()
	return &us
}

// FromMicros reads a column written by ToMicros, as Time keeps it.
func FromMicros(us *int64) time.Time {
	if us == nil {
		return time.Time{}
	}
	return Time(time.UnixMicro(*us))
}

// ToNullTime is the PostgreSQL column value of t: NULL (nil) for the zero
// time.
func ToNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// FromNullTime reads a column written by ToNullTime, as Time keeps it.
func FromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return Time(*t)
}
