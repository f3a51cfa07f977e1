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
	tokens atomic.Int64
}

// NewServer starts a fake authority. Close it when done.
func NewServer() *Server {
	s := &Server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Tokens returns how many tokens were issued.
func (s *Server) Tokens() int64 { return s.tokens.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant := parts[0]
	base := s.URL + "/" + tenant
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
		s.tokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": Token,
		})
	default:
		http.NotFound(w, r)
	}
}
