package compress_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// CheckOutput sees, before any learning, a model of the output's form: the
// same operators and initializer names as the output, from a copy that
// leaves the input untouched; its error stops Compress before learning.
func TestCheckOutputBeforeLearning(t *testing.T) {
	byName := map[string]fixtures.Fixture{}
	for _, f := range fixtures.All() {
		byName[f.Name] = f
	}
	for _, name := range []string{"external_data", "tied_projection", "if_branch", "opset18"} {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, byName[name])
			before := proto.Clone(m.Proto)
			var preview *onnxpb.ModelProto
			var learned bool
			opts := compress.Options{M: 2, K: 16, Seed: 1, Iterations: 2, Restarts: 1,
				Progress: func(ev compress.Event) { learned = learned || ev.Phase == "learn" },
				CheckOutput: func(p *model.Model) error {
					if learned {
						t.Error("CheckOutput ran after learning started")
					}
					if !proto.Equal(m.Proto, before) {
						t.Error("the preview changed the input model")
					}
					preview = proto.Clone(p.Proto).(*onnxpb.ModelProto)
					return nil
				}}
			if _, err := compress.Compress(context.Background(), m, opts); err != nil {
				t.Fatal(err)
			}
			if preview == nil {
				t.Fatal("CheckOutput was not called")
			}
			if got, want := shapeOf(preview), shapeOf(m.Proto); !slices.Equal(got, want) {
				t.Errorf("preview %v\noutput  %v", got, want)
			}
			refused := errors.New("refused")
			opts.CheckOutput = func(*model.Model) error { return refused }
			learned = false
			_, err := compress.Compress(context.Background(), loadFixture(t, byName[name]), opts)
			if !errors.Is(err, refused) || learned {
				t.Errorf("error %v, learned %v: want the check's error before any learning", err, learned)
			}
		})
	}
}

// shapeOf lists a model's main-graph operators and initializer names.
func shapeOf(mp *onnxpb.ModelProto) []string {
	var out []string
	for _, n := range mp.Graph.Node {
		out = append(out, n.OpType)
	}
	for _, t := range mp.Graph.Initializer {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}
