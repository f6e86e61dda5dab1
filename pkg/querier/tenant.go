package querier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/grafana/dskit/tenant"
)

// DefaultTenant is the tenant of every request when multi-tenancy is off,
// as in Pyroscope.
const DefaultTenant = "anonymous"

// OrgIDHeader carries the tenant of a request when multi-tenancy is on.
const OrgIDHeader = "X-Scope-OrgID"

var errNoOrgID = errors.New("no org id")

type tenantKey struct{}

// WithTenant returns a context that carries tenant.
func WithTenant(ctx context.Context, tenantID string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenantID)
}

// TenantFrom returns the tenant a request runs as.
func TenantFrom(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey{}).(string)
	return t, ok
}

// ResolveTenant returns the tenant named by an X-Scope-OrgID header value.
// With multi-tenancy off the header is ignored. Otherwise a missing header is
// unauthenticated and a malformed one invalid. A "|"-separated federation of
// several tenants is refused: blocks belong to exactly one tenant.
func ResolveTenant(multitenancy bool, orgID string) (string, error) {
	if !multitenancy {
		return DefaultTenant, nil
	}
	if orgID == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, errNoOrgID)
	}
	if strings.ContainsRune(orgID, '|') {
		return "", connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("tenant ID %q: querying several tenants at once is not supported", orgID))
	}
	if err := tenant.ValidTenantID(orgID); err != nil {
		return "", connect.NewError(connect.CodeInvalidArgument, err)
	}
	return orgID, nil
}

// tenantInterceptor puts the request's tenant into its context before any
// handler runs, so no handler can forget to check it.
func tenantInterceptor(multitenancy bool) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			t, err := ResolveTenant(multitenancy, req.Header().Get(OrgIDHeader))
			if err != nil {
				return nil, err
			}
			return next(WithTenant(ctx, t), req)
		}
	}
}
