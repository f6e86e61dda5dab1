package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

const renderMethod = "GET /pyroscope/render"

func init() {
	comparers[renderMethod] = compareRender
}

// callRender sends a golden /pyroscope/render request.
func callRender(t *testing.T, s *server, c *goldenCase) answer {
	var req struct {
		QueryParams map[string]string `json:"query_params"`
	}
	if err := json.Unmarshal(c.Request, &req); err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	for k, v := range req.QueryParams {
		q.Set(k, v)
	}
	r, _ := http.NewRequest(http.MethodGet, s.URL+"/pyroscope/render?"+q.Encode(), nil)
	st, _, body := httpDo(t, r)
	return connectAnswer(t, st, body, func(b []byte) any { return parseJSON(t, b) })
}

// compareRender applies the README's render rule: flame graph levels with
// names substituted, numTicks and maxSelf, and equal timeline and metadata.
func compareRender(t *testing.T, got, want any) {
	t.Helper()
	toFlameGraph := func(fb any) any {
		var levels []any
		for _, l := range asSlice(field(fb, "levels")) {
			levels = append(levels, map[string]any{"values": l})
		}
		return map[string]any{"names": field(fb, "names"), "levels": levels, "total": field(fb, "numTicks"), "maxSelf": field(fb, "maxSelf")}
	}
	compareFlameGraphs(t, toFlameGraph(field(got, "flamebearer")), toFlameGraph(field(want, "flamebearer")), 4, "total", "maxSelf")
	for _, f := range []string{"metadata", "timeline", "groups", "version"} {
		if !reflect.DeepEqual(field(got, f), field(want, f)) {
			t.Errorf("%s differs\n got: %s\nwant: %s", f, shortJSON(field(got, f)), shortJSON(field(want, f)))
		}
	}
}
