package querier

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	"github.com/cinder-profiling/cinder/pkg/selector"
)

// toConnectError maps an error from the readers to the code a client sees.
// This is the only place where codes are chosen for non-Connect errors.
func toConnectError(ctx context.Context, logger *slog.Logger, procedure string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, selector.ErrInvalidSelector), errors.Is(err, selector.ErrInvalidProfileType),
		errors.Is(err, flamegraph.ErrInvalidMaxNodes):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	logger.ErrorContext(ctx, "query failed", "procedure", procedure, "err", err)
	return connect.NewError(connect.CodeInternal, err)
}

// errorInterceptor applies toConnectError to every handler's error.
func errorInterceptor(logger *slog.Logger) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			if err != nil {
				return nil, toConnectError(ctx, logger, req.Spec().Procedure, err)
			}
			return resp, nil
		}
	}
}
