// Package pagetoken makes the opaque page tokens of every list method: a
// cursor (a keyset position or an offset) serialised as URL-safe text, and
// a fingerprint of the request it belongs to, so that a token replayed with
// other filters is recognised and refused.
package pagetoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// Encode turns a cursor into a token. v must marshal to JSON.
func Encode(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// Decode reads a token made by Encode into v; an error means the token was
// not made by this service.
func Decode(token string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// Fingerprint is a short hash of v's JSON, for binding a token to the
// request parameters that select and order the results.
func Fingerprint(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic("pagetoken: fingerprint of a value that does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
