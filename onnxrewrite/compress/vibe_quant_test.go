package compress_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// vibeQuantized writes the vibe model with its table quantized in form.
func vibeQuantized(t *testing.T, form string) string {
	m, err := model.Load(vibeModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := onnxrewrite.QuantizeAsORT(m, "embedding.weight", form); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "vibe_"+form+".onnx")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// vibeCompress compresses the model at path with opts, with counts from
// calib when it is given, and returns the output's path and the report.
func vibeCompress(t testing.TB, rt *ort.Runtime, path string, calib []fixtures.Sentence, opts compress.Options) (string, *compress.Report) {
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if calib != nil {
		if opts.Counts, err = calibrate.RowCounts(rt, m, nil, map[string]ort.HostTensor{"input": idsTensor(calib)}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := compress.Compress(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "small.onnx")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out, rep
}

// The vibe model quantized as ORT's quantize_dynamic and QDQ write it,
// compressed at 16x16 with calibration: files at least 4x smaller than the
// int8 model, decisions as the quantized model's on >= 99.5% of held-out
// sentences.
func TestVibeQuantized(t *testing.T) {
	v := newVibeSet(t, 2, 2000)
	rt, calib, held, orig := v.rt, v.calib, v.in, v.orig
	// The dynamic and QDQ forms dequantize to the same values: one codes
	// cache serves both (the second reads the first's codes).
	codesDir := t.TempDir()
	for _, form := range []string{onnxrewrite.QuantizeDynamic, onnxrewrite.QuantizeQDQ, onnxrewrite.QuantizePerRow} {
		qpath := vibeQuantized(t, form)
		qd := decisions(t, rt, qpath, held)
		out, rep := vibeCompress(t, rt, qpath, calib, compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: 16, K: 16, CodesDir: codesDir})
		d := decisions(t, rt, out, held)
		qb, ob := filesBytes(t, qpath), filesBytes(t, out)
		tr := rep.Tables[0]
		t.Logf("%s: quantized %d bytes (%.2f%% agree with float) -> %d bytes (%.1fx smaller), %.2f%% agree with the quantized model, %.2f%% with the float one; codebook %s; codes cached %v, metric %s",
			form, qb, 100*agreement(orig, qd), ob, float64(qb)/float64(ob), 100*agreement(qd, d), 100*agreement(orig, d), tr.CodebookReason, tr.Cached, tr.Metric)
		if agreement(qd, d) < 0.995 || qb < 4*ob {
			t.Errorf("%s: agreement %.4f with the quantized model at %.1fx, want >= 0.995 at >= 4x", form, agreement(qd, d), float64(qb)/float64(ob))
		}
	}
}

// At 16x16 a float16 codebook brings the float vibe model under 180,000
// bytes at >= 99.5% agreement; auto chooses it.
func TestVibeCodebookFloat16(t *testing.T) {
	v := newVibeSet(t, 2, 2000)
	rt, calib, held, orig := v.rt, v.calib, v.in, v.orig
	// The cache holds the learned float32 codebook; each type rounds it
	// after, so one learn serves the three.
	codesDir := t.TempDir()
	for _, dt := range []string{"float32", "float16", "auto"} {
		out, rep := vibeCompress(t, rt, vibeModel, calib, compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: 16, K: 16, CodebookDType: dt, CodesDir: codesDir})
		a, n := agreement(orig, decisions(t, rt, out, held)), filesBytes(t, out)
		t.Logf("--codebook-dtype %s: %d bytes, %.2f%% agree; %s", dt, n, 100*a, rep.Tables[0].CodebookReason)
		if dt != "float32" && (n > 180000 || a < 0.995 || rep.Tables[0].CodebookDType != "float16") {
			t.Errorf("%s: %d bytes at %.4f agreement, codebook %s; want <= 180000 at >= 0.995, float16", dt, n, a, rep.Tables[0].CodebookDType)
		}
	}
}

// The vibe model quantized by an external script that leaves behind a
// graph.value_info entry for the float table it removed (PyTorch's newer
// exporter writes value_info for every initializer): compressed at 16x16
// with calibration, the entry is dropped and said, the output passes the
// output check (and onnx-go, which read the entry as a value nothing
// defines, agrees with it), and it agrees with the quantized model on
// >= 99.5% of held-out decisions at >= 4x smaller.
func TestVibeQuantizedStaleValueInfo(t *testing.T) {
	v := newVibeSet(t, 2, 2000)
	q, err := model.Load(vibeQuantized(t, onnxrewrite.QuantizeDynamic))
	if err != nil {
		t.Fatal(err)
	}
	q.Proto.Graph.ValueInfo = append(q.Proto.Graph.ValueInfo, fixtures.TensorInfo("embedding.weight", onnxpb.TensorProto_FLOAT, 15000, 64))
	qpath := filepath.Join(t.TempDir(), "vibe_stale.onnx")
	if err := q.Save(qpath, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(qpath)
	if err != nil {
		t.Fatal(err)
	}
	opts := compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: 16, K: 16}
	if opts.Counts, err = calibrate.RowCounts(v.rt, m, nil, map[string]ort.HostTensor{"input": idsTensor(v.calib)}); err != nil {
		t.Fatal(err)
	}
	rep, err := compress.Compress(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(rep.Tables[0].Rewrite.Notes, "; "); !strings.Contains(notes, `value_info "embedding.weight" dropped: nothing defines it`) {
		t.Errorf("notes %q, want the stale entry dropped and named", notes)
	}
	out := rtkit.Save(t, m, "small.onnx")
	qd, d := decisions(t, v.rt, qpath, v.in), decisions(t, v.rt, out, v.in)
	qb, ob := filesBytes(t, qpath), filesBytes(t, out)
	t.Logf("quantized with a stale value_info: %d bytes -> %d bytes (%.1fx smaller), %.2f%% of held-out decisions agree with the quantized model, %.2f%% with the float one",
		qb, ob, float64(qb)/float64(ob), 100*agreement(qd, d), 100*agreement(v.orig, d))
	if agreement(qd, d) < 0.995 || qb < 4*ob {
		t.Errorf("agreement %.4f at %.1fx, want >= 0.995 at >= 4x", agreement(qd, d), float64(qb)/float64(ob))
	}
}
