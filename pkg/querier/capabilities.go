package querier

import (
	"context"
	"mime"
	"net/http"
	"strings"
)

// utf8LabelNamesParam is the Accept parameter with which a client declares
// that it can handle label names outside the legacy Prometheus charset.
const utf8LabelNamesParam = "allow-utf8-labelnames"

type capabilitiesKey struct{}

// Capabilities are what a client declared it can handle.
type Capabilities struct {
	AllowUTF8LabelNames bool
}

func capabilitiesFrom(ctx context.Context) Capabilities {
	c, _ := ctx.Value(capabilitiesKey{}).(Capabilities)
	return c
}

// CapabilitiesMiddleware reads client capabilities from the Accept headers.
// An Accept header that cannot be parsed is a bad request, as in Pyroscope.
func CapabilitiesMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var caps Capabilities
		for _, header := range r.Header.Values("Accept") {
			for part := range strings.SplitSeq(header, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				_, params, err := mime.ParseMediaType(part)
				if err != nil {
					http.Error(w, "Invalid header format: "+err.Error(), http.StatusBadRequest)
					return
				}
				if params[utf8LabelNamesParam] == "true" {
					caps.AllowUTF8LabelNames = true
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), capabilitiesKey{}, caps)))
	})
}

// isLegacyLabelName reports whether name matches ^[A-Za-z_][A-Za-z0-9_]*$,
// the label names that clients without the UTF-8 capability can handle.
func isLegacyLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}
