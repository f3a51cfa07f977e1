// Package aadtest is a minimal Microsoft Entra ID (Azure AD) token endpoint for tests: enough of
// OpenID discovery and the client-credentials grant for azidentity (through MSAL) to get a token
// from it when AZURE_AUTHORITY_HOST points here and instance discovery is off.
package aadtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Token is the access token every successful request gets.
const Token = "aadtest-access-token"

// Server is a fake authority over TLS (MSAL requires https).
type Server struct {
	*httptest.Server
	auth *Authority
}

// NewServer starts a fake authority. Close it when done.
func NewServer() *Server {
	s := &Server{}
	s.auth = &Authority{}
	s.Server = httptest.NewTLSServer(s.auth)
	s.auth.URL = s.URL
	return s
}

// Tokens returns how many tokens were issued.
func (s *Server) Tokens() int64 { return s.auth.Tokens() }

// Authority is the fake authority's handler, for a server of one's own (such as `aksbot sim
// --with-login`, which serves it beside the simulated ARM endpoint). URL is the authority host
// as clients reach it (https://host:port), without a trailing slash; set it before serving.
type Authority struct {
	URL    string
	tokens atomic.Int64
}

// Tokens returns how many tokens were issued.
func (a *Authority) Tokens() int64 { return a.tokens.Load() }

// Handles reports whether a request path is one the authority answers (discovery and token
// endpoints), so that it can share a listener with another handler.
func Handles(path string) bool {
	return strings.HasSuffix(path, "/.well-known/openid-configuration") || strings.HasSuffix(path, "/oauth2/v2.0/token")
}

func (a *Authority) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant := parts[0]
	base := strings.TrimSuffix(a.URL, "/") + "/" + tenant
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		_ = json.NewEncoder(w).Encode(map[string]any{
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"issuer":                 base + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_request", "error_description": "client_id missing"})
			return
		}
		a.tokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": Token,
		})
	default:
		http.NotFound(w, r)
	}
}
