// Package refdata is the single place where govmatch decides whether a
// procurement reference code is real, so that the needs registry, the vendor
// registry and matching agree on what "72212000" or "DE11" means and never
// store the same thing in two spellings.
//
// It covers two vocabularies:
//
//   - CPV 2008, the EU Common Procurement Vocabulary (Regulation (EC)
//     No 213/2008), with its hierarchy, so that a filter on a broad code
//     matches needs filed under a narrower one.
//   - German places of performance: NUTS regions of level 1–3 and
//     municipalities by their Amtlicher Gemeindeschlüssel (AGS), with match
//     keys that make "is this place inside that filter" a set lookup.
//
// Error messages are written for the person who typed the code (they end up
// in a request's field violations), so they name the offending input and say
// what was expected, without a package prefix.
//
// # Data
//
// The source files are embedded unchanged from data/ (see the NOTICE file at
// the repository root for attribution):
//
//   - data/cpv2008_de_en.csv: CPV 2008 with check digits and German and
//     English names, from Forum-Informationsfreiheit/OffeneVergaben
//     (BSD-2-Clause; the content is EU legal text).
//   - data/nuts3_de.csv: German NUTS-3 regions as shipped in eForms SDK
//     1.15.1 (CC BY 4.0, © European Union, Publications Office).
//   - data/gemeinden_ags_ars.csv: municipalities with AGS from the Destatis
//     GV-ISys extract of 31.12.2019 (Datenlizenz Deutschland – Namensnennung
//     2.0, © Statistisches Bundesamt (Destatis)).
//
// Parsing happens on first use, once per vocabulary, so that importing the
// package does not cost every service start-up about 10 ms and a few MB of
// garbage per vocabulary, whether it needs them or not. The embedded files are checked by the tests; should a broken
// file ever be embedded anyway, the first call panics rather than silently
// accepting or rejecting every code. Caller input never causes a panic.
//
// All returned slices that are documented as shared must not be modified:
// they are handed out without copying because every request may need them.
package refdata
