package score

import "testing"

func TestDedupeSentences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "nothing repeats", in: "Roofing works. Window repairs.", want: "Roofing works. Window repairs."},
		{name: "a lot notice repeated", in: "Framework for roofing. Lot 1 awarded. Framework for roofing. Lot 2 awarded.",
			want: "Framework for roofing. Lot 1 awarded. Lot 2 awarded."},
		{name: "case and punctuation do not make it new", in: "Online-Terminbuchung für Bürgerbüros.\nONLINE TERMINBUCHUNG FÜR BÜRGERBÜROS!",
			want: "Online-Terminbuchung für Bürgerbüros.\n"},
		{name: "a different word does", in: "Repairs in Leeds. Repairs in York.", want: "Repairs in Leeds. Repairs in York."},
		{name: "no sentence end", in: "Terminbuchung Terminbuchung", want: "Terminbuchung Terminbuchung"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := dedupeSentences(tt.in); got != tt.want {
				t.Errorf("dedupeSentences(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
