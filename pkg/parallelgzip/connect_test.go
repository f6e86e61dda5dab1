package parallelgzip

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestConnectClients serves responses compressed by a Writer with a small
// chunk size and reads them with connect-go's clients, whose gzip is the
// standard library's, over every protocol: the Connect protocol compresses
// the whole body (Content-Encoding), gRPC and gRPC-Web each message
// (grpc-encoding).
func TestConnectClients(t *testing.T) {
	const path = "/cinder.test.v1.EchoService/Echo"
	var compressed atomic.Int64
	handler := connect.NewUnaryHandler(path,
		func(_ context.Context, req *connect.Request[wrapperspb.UInt64Value]) (*connect.Response[wrapperspb.BytesValue], error) {
			return connect.NewResponse(wrapperspb.Bytes(testData(int(req.Msg.Value), req.Msg.Value))), nil
		},
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &nopDecompressor{} },
			func() connect.Compressor {
				z, err := newWriter(io.Discard, 1, 1<<10, 4)
				if err != nil {
					panic(err)
				}
				return countingWriter{z, &compressed}
			}))
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	protocols := map[string][]connect.ClientOption{
		"connect":  nil,
		"grpc":     {connect.WithGRPC()},
		"grpc-web": {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		client := connect.NewClient[wrapperspb.UInt64Value, wrapperspb.BytesValue](srv.Client(), srv.URL+path, opts...)
		for _, size := range []uint64{0, 100, 1 << 10, 300 << 10} {
			before := compressed.Load()
			resp, err := client.CallUnary(context.Background(), connect.NewRequest(wrapperspb.UInt64(size)))
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", name, size, err)
			}
			if want := testData(int(size), size); !bytes.Equal(resp.Msg.Value, want) {
				t.Errorf("%s: got %d bytes, want the %d sent", name, len(resp.Msg.Value), size)
			}
			if n := compressed.Load() - before; n < int64(size) {
				t.Errorf("%s: %d bytes compressed for a response of %d", name, n, size)
			}
		}
	}
}

// countingWriter counts the bytes compressed, to show that responses were.
type countingWriter struct {
	*Writer
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.Writer.Write(p)
}

// nopDecompressor is never used: the clients send uncompressed requests.
type nopDecompressor struct{ io.Reader }

func (d *nopDecompressor) Reset(r io.Reader) error { d.Reader = r; return nil }
func (d *nopDecompressor) Close() error            { return nil }
