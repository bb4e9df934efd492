package models

// Provider says where a caller's identity comes from.
type Provider string

const (
	// ProviderLocal is an account registered with this API.
	ProviderLocal Provider = "local"
	// ProviderExternal is a user of the frontend's Better Auth, known only by its token.
	ProviderExternal Provider = "external"
)

// Caller is the authenticated user of a request, taken from a verified token
// and never from the request body. UserID scopes every task and tag query.
type Caller struct {
	UserID   string
	Provider Provider
	Email    string
	Name     string
}
