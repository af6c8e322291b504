package onnxrewrite_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// writeBigTableModel writes a Gather model whose [rows, cols] float32 table
// lives in external data, streaming the bytes so the generator itself never
// holds the table.
func writeBigTableModel(b *testing.B, dir string, rows, cols int) string {
	b.Helper()
	data := filepath.Join(dir, "big.onnx.data")
	f, err := os.Create(data)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 1<<20)
	for left := int64(rows) * int64(cols) * 4; left > 0; left -= int64(len(chunk)) {
		for i := 0; i < len(chunk); i += 8 {
			v := r.Uint64() & 0x3fff_ffff_3fff_ffff // finite floats
			for j := 0; j < 8; j++ {
				chunk[i+j] = byte(v >> (8 * j))
			}
		}
		n := int64(len(chunk))
		if left < n {
			n = left
		}
		if _, err := w.Write(chunk[:n]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	mp := testkit.GatherModel(13, 1, cols)
	t := mp.Graph.Initializer[0]
	t.Dims = []int64{int64(rows), int64(cols)}
	t.RawData = nil
	t.DataLocation = onnxpb.TensorProto_EXTERNAL
	t.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location", Value: "big.onnx.data"}}
	path := filepath.Join(dir, "big.onnx")
	testkit.WriteModel(&testing.T{}, path, mp)
	return path
}

// BenchmarkLoadSave1GiB loads and saves a model with a 1 GiB external table
// (the shape of Llama 3.2 1B's token table) and reports the time as a ratio
// to cp of the same bytes, measured in the same iteration (each after a
// sync, alternating which goes first), and the process's peak RSS. Save
// fsyncs its output, which cp does not: the ratio includes that. Needs about 3 GiB of free disk in $TMPDIR.
func BenchmarkLoadSave1GiB(b *testing.B) {
	dir := b.TempDir()
	path := writeBigTableModel(b, dir, 128256, 2048)
	var ratios []float64
	var cpTime time.Duration
	b.ResetTimer()
	// cp, and cp followed by an fsync of the copy (what Save's durability
	// costs on top), each timed after a sync.
	cp := func(fsync bool) time.Duration {
		syscall.Sync() // neither side pays for the other's dirty pages
		os.Remove(filepath.Join(dir, "cp.data"))
		start := time.Now()
		if out, err := exec.Command("cp", filepath.Join(dir, "big.onnx.data"), filepath.Join(dir, "cp.data")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		if fsync {
			if out, err := exec.Command("sync", filepath.Join(dir, "cp.data")).CombinedOutput(); err != nil {
				b.Fatalf("sync: %v %s", err, out)
			}
		}
		return time.Since(start)
	}
	loadSave := func() time.Duration {
		syscall.Sync()
		b.StartTimer()
		start := time.Now()
		m, err := model.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Save(filepath.Join(dir, "out.onnx"), model.SaveOptions{}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		b.StopTimer()
		return d
	}
	b.StopTimer()
	var ratiosSync []float64
	for i := 0; i < b.N; i++ {
		os.Remove(filepath.Join(dir, "out.onnx.data"))
		var cpDur, cpSyncDur, d time.Duration
		if i%2 == 0 { // alternate which runs first
			cpDur, cpSyncDur, d = cp(false), cp(true), loadSave()
		} else {
			d, cpSyncDur, cpDur = loadSave(), cp(true), cp(false)
		}
		cpTime += cpDur
		ratios = append(ratios, float64(d)/float64(cpDur))
		ratiosSync = append(ratiosSync, float64(d)/float64(cpSyncDur))
	}
	b.StopTimer()
	sort.Float64s(ratios)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	sort.Float64s(ratiosSync)
	b.ReportMetric(ratios[len(ratios)/2], "x-cp-median")
	b.ReportMetric(ratiosSync[len(ratiosSync)/2], "x-cp+fsync-median")
	b.ReportMetric(float64(cpTime.Milliseconds())/float64(b.N), "cp-ms/op")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}
