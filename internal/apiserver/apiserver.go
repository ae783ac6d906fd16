// Package apiserver lets AgentPulse components share one HTTP listener and
// one key set: the query API extension owns the server, and the receiver
// mounts its ingest routes on it, so that the SDK's single base_url serves
// both ingest and queries.
package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/agentpulse/agentpulse/internal/auth"
)

// Server is implemented by the extension that owns the listener.
type Server interface {
	// Mount serves h at pattern (a net/http ServeMux pattern such as
	// "POST /v1/events") until the returned function is called.
	Mount(pattern string, h http.Handler) (unmount func(), err error)
	// Keys is the server's key set.
	Keys() *auth.Store
}

// Find returns the extension id of host as a Server.
func Find(host component.Host, id component.ID) (Server, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("extension %q is not configured in the service's extensions", id)
	}
	s, ok := ext.(Server)
	if !ok {
		return nil, fmt.Errorf("extension %q cannot share its HTTP server (use an agentpulse_query extension)", id)
	}
	return s, nil
}

// Error codes of the JSON error envelope.
const (
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeInvalidParameter     = "invalid_parameter"
	CodeInvalidRequest       = "invalid_request"
	CodeNotFound             = "not_found"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeOverloaded           = "overloaded"
	CodeInternal             = "internal"
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError writes the contract's error envelope.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code = code
	b.Error.Message = message
	WriteJSON(w, status, b)
}

// WriteJSON writes v as the JSON body of a response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"failed to encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteAuthError maps an authentication error to 401.
func WriteAuthError(w http.ResponseWriter, err error) {
	WriteError(w, http.StatusUnauthorized, CodeUnauthorized, err.Error())
}

type encodingKey struct{}

// KeepContentEncoding wraps a server's handler (confighttp's middleware
// included) so that the handler inside can still learn the body's
// Content-Encoding after the middleware has removed the header, and
// normalizes the header's coding name for the middleware.
func KeepContentEncoding(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if enc := r.Header.Get("Content-Encoding"); enc != "" {
			// Coding names are case-insensitive, and x-gzip is gzip
			// (RFC 9110, 8.4.1.3); the middleware matches them exactly.
			norm := strings.ToLower(strings.TrimSpace(enc))
			if norm == "x-gzip" {
				norm = "gzip"
			}
			r.Header.Set("Content-Encoding", norm)
			r = r.WithContext(context.WithValue(r.Context(), encodingKey{}, norm))
		}
		h.ServeHTTP(w, r)
	})
}

// ContentEncoding is the Content-Encoding the client sent, "" for none or
// identity.
func ContentEncoding(r *http.Request) string {
	enc, _ := r.Context().Value(encodingKey{}).(string)
	if enc == "" {
		enc = r.Header.Get("Content-Encoding")
	}
	enc = strings.ToLower(strings.TrimSpace(enc))
	if enc == "identity" {
		return ""
	}
	return enc
}

// BadEncoding describes a body that could not be decompressed as its
// Content-Encoding says.
func BadEncoding(r *http.Request, cause string) string {
	return fmt.Sprintf("the body is not valid %s, as its Content-Encoding says: %s", ContentEncoding(r), cause)
}

// MiddlewareErrorHandler answers the errors of confighttp's middleware
// (decompression, body size) with the JSON envelope. Pass it to ToServer
// with confighttp.WithErrorHandler.
func MiddlewareErrorHandler(w http.ResponseWriter, r *http.Request, msg string, status int) {
	code := CodeInvalidRequest
	switch {
	case strings.HasPrefix(msg, "unsupported Content-Encoding"):
		status, code = http.StatusUnsupportedMediaType, CodeUnsupportedMediaType
	case status == http.StatusRequestEntityTooLarge:
		code = CodePayloadTooLarge
	case status >= 500:
		code = CodeInternal
	case status == http.StatusBadRequest && ContentEncoding(r) != "":
		// The decompressor's own words ("gzip: invalid header") do not
		// say which part of the request is wrong.
		msg = BadEncoding(r, msg)
	}
	WriteError(w, status, code, msg)
}
