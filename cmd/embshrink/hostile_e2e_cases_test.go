package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

func vinfo(name string, elem onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
	var shape *onnxpb.TensorShapeProto
	if dims != nil {
		shape = &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem), Shape: shape}}}}
}

// constIDs makes the ids a Constant node instead of a graph input.
func constIDs(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
	g.Input = nil
	ids := &onnxpb.TensorProto{Name: "ids_value", Dims: []int64{3}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1, 5, 63}}
	g.Node = append([]*onnxpb.NodeProto{{Name: "ids_const", OpType: "Constant", Output: []string{"ids"},
		Attribute: []*onnxpb.AttributeProto{{Name: "value", Type: onnxpb.AttributeProto_TENSOR, T: ids}}}}, g.Node...)
	g.Output = []*onnxpb.ValueInfoProto{vinfo("out", onnxpb.TensorProto_FLOAT, 3, hostileDim)}
}

// twinGather adds a second table, bitwise equal to emb, read by its own
// Gather into a second output.
func twinGather(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
	twin := proto.Clone(g.Initializer[0]).(*onnxpb.TensorProto)
	twin.Name = "emb_twin"
	g.Initializer = append(g.Initializer, twin)
	g.Node = append(g.Node, &onnxpb.NodeProto{Name: "lookup2", OpType: "Gather", Input: []string{"emb_twin", "ids"}, Output: []string{"out2"}})
	g.Output = append(g.Output, vinfo("out2", onnxpb.TensorProto_FLOAT))
}

// secondGather names the Gather first and adds a second Gather of emb
// named second, read by a MatMul so that the readout metric applies.
func secondGather(first, second string) func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
	return func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
		g.Node[0].Name = first
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "proj", Dims: []int64{hostileDim, 2}, DataType: int32(onnxpb.TensorProto_FLOAT), FloatData: []float32{1, 0, 0, 1, 1, 1, 0.5, -1}})
		g.Node = append(g.Node, &onnxpb.NodeProto{Name: second, OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"rows2"}},
			&onnxpb.NodeProto{Name: "", OpType: "MatMul", Input: []string{"rows2", "proj"}, Output: []string{"out2"}})
		g.Output = append(g.Output, vinfo("out2", onnxpb.TensorProto_FLOAT))
	}
}

// scalarOutput makes the model's one output the rank-0 sum of its rows.
func scalarOutput(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
	g.Node = append(g.Node, &onnxpb.NodeProto{Name: "total", OpType: "ReduceSum", Input: []string{"out"}, Output: []string{"sum"},
		Attribute: []*onnxpb.AttributeProto{{Name: "keepdims", Type: onnxpb.AttributeProto_INT, I: 0}}})
	g.Output = []*onnxpb.ValueInfoProto{{Name: "sum", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: &onnxpb.TensorShapeProto{}}}}}}
}

func hostileE2ECases() []e2eCase {
	return append(hostilePathCases(), hostileModelCases()...)
}

// hostilePathCases are models without graph inputs or with names that look
// like labels, and unusual output paths.
func hostilePathCases() []e2eCase {
	isRoot := os.Geteuid() == 0
	return []e2eCase{
		{"no graph inputs: compress", editGraph(constIDs), compressArgs, works, nil},
		{"no graph inputs: validate", editGraph(constIDs), []string{"validate", "{model}", "{model}"}, works, nil},
		{"no graph inputs: inspect", editGraph(constIDs), []string{"inspect", "{model}"}, works, nil},
		{"node named #1", editGraph(secondGather("#1", "")), compressArgs, works, nil},
		{"node named #1, euclidean", editGraph(secondGather("#1", "")), withArgs(compressArgs, "--metric", "euclidean"), works, nil},
		{"node named #2, lookup", editGraph(secondGather("", "#2")), withArgs(compressArgs, "--layout", "lookup"), works, nil},
		{"nodes named #0 #1 #2, euclidean", editGraph(secondGather("#2", "#0")), withArgs(compressArgs, "--metric", "euclidean", "--layout", "lookup"), works, nil},
		{"two nodes of one name", editGraph(secondGather("lookup", "lookup")), compressArgs, refused, []string{"model.onnx", `node name "lookup"`, "twice"}},
		{"two nodes of one name, inspect", editGraph(secondGather("lookup", "lookup")), []string{"inspect", "{model}"}, refused, []string{"model.onnx", `node name "lookup"`}},
		{"-o /dev/null", func(t *testing.T, e *hostileEnv) { e.output = "/dev/null" }, compressArgs, refused, []string{"/dev/null", "device node"}},
		{"-o a symlink", func(t *testing.T, e *hostileEnv) {
			os.WriteFile(filepath.Join(e.aux, "target.onnx"), []byte("x"), 0o644)
			os.Symlink(filepath.Join(e.aux, "target.onnx"), e.output)
		}, compressArgs, refused, []string{"small.onnx", "symbolic link"}},
		{"-o a symlink to the input", func(t *testing.T, e *hostileEnv) { os.Symlink(e.model, e.output) },
			compressArgs, refused, []string{"small.onnx"}},
		{"-o a hardlink to the input", func(t *testing.T, e *hostileEnv) { os.Link(e.model, e.output) },
			compressArgs, refused, []string{"small.onnx", "refusing to overwrite the input model"}},
		{"learn --codes /dev/null", nil, []string{"learn", "--model", "{model}", "-M", "2", "-K", "16", "--codes", "/dev/null", "--codebook", "{aux}/b2.npy"},
			refused, []string{"/dev/null", "not a regular file"}},
		{"learn --codebook a directory", func(t *testing.T, e *hostileEnv) { os.Mkdir(filepath.Join(e.aux, "dir.npy"), 0o755) },
			[]string{"learn", "--model", "{model}", "-M", "2", "-K", "16", "--codes", "{aux}/c2.npy", "--codebook", "{aux}/dir.npy"},
			refused, []string{"dir.npy", "not a regular file"}},
		{"learn --codes in a missing folder", nil, []string{"learn", "--model", "{model}", "-M", "2", "-K", "16", "--codes", "{aux}/no/c.npy", "--codebook", "{aux}/b2.npy"},
			refused, []string{"c.npy", "output folder"}},
		{"-o a FIFO", func(t *testing.T, e *hostileEnv) { syscall.Mkfifo(e.output, 0o644) }, compressArgs, refused, []string{"small.onnx", "named pipe"}},
		{"-o a directory", func(t *testing.T, e *hostileEnv) { os.Mkdir(e.output, 0o755) }, compressArgs, refused, []string{"small.onnx", "directory"}},
		{"-o a directory, rewrite", func(t *testing.T, e *hostileEnv) { os.Mkdir(e.output, 0o755) },
			[]string{"rewrite", "{model}", "--codes", "{aux}/codes.npy", "--codebook", "{aux}/book.npy", "-o", "{out}"}, refused, []string{"small.onnx", "directory"}},
		{"-o a read-only folder", func(t *testing.T, e *hostileEnv) {
			if isRoot {
				t.Skip("root writes into read-only folders")
			}
			os.Chmod(e.out, 0o555)
			t.Cleanup(func() { os.Chmod(e.out, 0o755) })
		}, compressArgs, refused, []string{"small.onnx", "temporary file"}},
		{"-o a name too long for the temporary file", func(t *testing.T, e *hostileEnv) {
			e.output = filepath.Join(e.out, strings.Repeat("x", 245)+".onnx")
		}, compressArgs, refused, []string{"xxxx.onnx", "temporary file"}},
		{"--data-file the output's own name", func(t *testing.T, e *hostileEnv) {}, withArgs(compressArgs, "--data-file", "small.onnx", "--external-data", "always"),
			refused, []string{"small.onnx", "is the output model itself"}},
		{"-o in a missing folder", func(t *testing.T, e *hostileEnv) { e.output = filepath.Join(e.out, "nope", "small.onnx") }, compressArgs, refused, []string{"small.onnx", "output folder"}},
	}
}

// hostileModelCases are models that are unusual but that ONNX Runtime may
// accept, and unusual flag values.
func hostileModelCases() []e2eCase {
	return []e2eCase{
		{"identical twin tables", editGraph(twinGather), compressArgs, works, nil},
		{"identical twin tables, lookup", editGraph(twinGather), withArgs(compressArgs, "--layout", "lookup"), works, nil},
		{"--table emb --table emb", nil, withArgs(compressArgs, "--table", "emb", "--table", "emb"), works, nil},
		{"table is a graph output, lookup", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Output = append(g.Output, vinfo("emb", onnxpb.TensorProto_FLOAT, hostileRows, hostileDim))
		}), withArgs(compressArgs, "--layout", "lookup"), works, nil},
		{"table is a graph output, decode", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Output = append(g.Output, vinfo("emb", onnxpb.TensorProto_FLOAT, hostileRows, hostileDim))
		}), withArgs(compressArgs, "--layout", "decode"), works, nil},
		{"duplicate initializer", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Initializer = append(g.Initializer, proto.Clone(g.Initializer[0]).(*onnxpb.TensorProto))
		}), compressArgs, refused, []string{"model.onnx", `initializer "emb"`, "twice"}},
		{"two graph outputs of one name", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Output = append(g.Output, g.Output[0])
		}), compressArgs, refused, []string{"model.onnx", `output "out"`, "twice"}},
		{"--ratio NaN", nil, []string{"compress", "{model}", "-o", "{out}", "--ratio", "NaN"}, refused, []string{"--ratio", "NaN"}},
		{"--floor NaN", nil, withArgs(compressArgs, "--floor", "NaN"), refused, []string{"--floor", "NaN"}},
		{"--ratio +Inf", nil, []string{"compress", "{model}", "-o", "{out}", "--ratio", "+Inf"}, refused, []string{"--ratio", "Inf"}},
		{"validate --rtol NaN", nil, []string{"validate", "{model}", "{model}", "--rtol", "NaN"}, refused, []string{"--rtol", "NaN"}},
		{"validate --samples 1e8", nil, []string{"validate", "{model}", "{model}", "--samples", "100000000"}, refused, []string{"model.onnx", "--samples", "limit"}},
		{"validate --samples 10000 (chunked)", nil, []string{"validate", "{model}", "{model}", "--samples", "10000"}, works, nil},
		{"scalar output: validate against itself", editGraph(scalarOutput), []string{"validate", "{model}", "{model}"}, works, nil},
		{"scalar output: compress", editGraph(scalarOutput), compressArgs, works, nil},
		{"validate --samples 1e11", nil, []string{"validate", "{model}", "{model}", "--samples", "100000000000"}, refused, []string{"model.onnx", "--samples"}},
		{"string initializer", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "vocab", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_STRING), StringData: [][]byte{[]byte("a"), []byte("b\x00\xff")}})
			g.Node = append(g.Node, &onnxpb.NodeProto{Name: "vocab_id", OpType: "Identity", Input: []string{"vocab"}, Output: []string{"words"}})
			g.Output = append(g.Output, vinfo("words", onnxpb.TensorProto_STRING, 2))
		}), compressArgs, either, []string{"model.onnx"}},
		{"no opset import", editGraph(func(_ *onnxpb.GraphProto, mp *onnxpb.ModelProto) { mp.OpsetImport = nil }), compressArgs, refused, []string{"model.onnx", "opset"}},
		{"opset 9", editGraph(func(_ *onnxpb.GraphProto, mp *onnxpb.ModelProto) { mp.OpsetImport[0].Version = 9 }), compressArgs, either, []string{"model.onnx", "opset"}},
		{"opset 23", editGraph(func(_ *onnxpb.GraphProto, mp *onnxpb.ModelProto) { mp.OpsetImport[0].Version = 23 }), compressArgs, either, []string{"model.onnx", "opset"}},
		{"custom-domain node reads the table", editGraph(func(g *onnxpb.GraphProto, mp *onnxpb.ModelProto) {
			mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: "com.example", Version: 1})
			g.Node = append(g.Node, &onnxpb.NodeProto{Name: "mystery", OpType: "Frob", Domain: "com.example", Input: []string{"emb"}, Output: []string{"frob"}})
			g.Output = append(g.Output, vinfo("frob", onnxpb.TensorProto_FLOAT))
		}), compressArgs, either, []string{"model.onnx"}},
		{"zero-row table", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			emb := g.Initializer[0]
			emb.Dims, emb.DataLocation, emb.ExternalData, emb.RawData = []int64{0, hostileDim}, 0, nil, []byte{}
		}), compressArgs, refused, []string{"model.onnx", "emb:"}},
		{"float ids input", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Input[0] = vinfo("ids", onnxpb.TensorProto_FLOAT)
		}), compressArgs, refused, []string{"model.onnx", `Gather "lookup"`, `ids "ids"`, "float32"}},
		{"huge dims in value_info", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.ValueInfo = append(g.ValueInfo, vinfo("out", onnxpb.TensorProto_FLOAT, math.MaxInt64, 1<<40))
			g.Input[0] = vinfo("ids", onnxpb.TensorProto_INT64, math.MaxInt64)
		}), []string{"validate", "{model}", "{model}"}, refused, []string{"model.onnx"}},
		{"negative dims in value_info", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.ValueInfo = append(g.ValueInfo, vinfo("out", onnxpb.TensorProto_FLOAT, -3, -1))
		}), compressArgs, either, []string{"onnx"}},
		{"external data offset past EOF", editGraph(func(g *onnxpb.GraphProto, _ *onnxpb.ModelProto) {
			g.Initializer[0].ExternalData = append(g.Initializer[0].ExternalData, &onnxpb.StringStringEntryProto{Key: "offset", Value: "1099511627776"})
		}), compressArgs, refused, []string{"model.onnx", `tensor "emb"`, "offset"}},
		{"external data file is a FIFO", func(t *testing.T, e *hostileEnv) {
			syscall.Mkfifo(filepath.Join(e.in, "fifo.data"), 0o644)
			e.editModel(t, func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].ExternalData[0].Value = "fifo.data" })
		}, compressArgs, refused, []string{"model.onnx", `tensor "emb"`, "not a regular file"}},
		{"unicode and space names", func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) {
				mp.Graph.Initializer[0].Name = "emb é 表 x"
				mp.Graph.Node[0].Input[0] = "emb é 表 x"
				mp.Graph.Node[0].Name = "look up ✓"
			})
			os.Mkdir(filepath.Join(e.out, "a dir ü"), 0o755)
			e.output = filepath.Join(e.out, "a dir ü", "small model ✓.onnx")
		}, compressArgs, works, nil},
	}
}
