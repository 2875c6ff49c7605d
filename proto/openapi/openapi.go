// Package openapi embeds the OpenAPI v2 document generated from the protos,
// so the gateway serves the contract it was built with.
package openapi

import _ "embed"

// Document is the merged OpenAPI v2 (Swagger) JSON of every govmatch API.
//
//go:embed govmatch.swagger.json
var Document []byte
