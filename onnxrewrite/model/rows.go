package model

import "slices"

// Rows of host tensors along axis 0, for running a batch in parts (a
// model whose batch is fixed at 1 runs its samples one at a time).

func rowsOf[T any](d []T, shape []int64, lo, hi int64) []T {
	per := int64(len(d)) / max(shape[0], 1)
	return d[lo*per : hi*per]
}

// SliceRows is rows lo..hi of t along axis 0, sharing t's elements.
func SliceRows(t HostTensor, lo, hi int64) HostTensor {
	out := HostTensor{Shape: slices.Clone(t.Shape), Elem: t.Elem}
	out.Shape[0] = hi - lo
	switch d := t.Data.(type) {
	case []float32:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []float64:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []int64:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []int32:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []uint8:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []uint16:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []bool:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	case []string:
		out.Data = rowsOf(d, t.Shape, lo, hi)
	}
	return out
}

func joinData[T any](a any, b []T) []T {
	prev, _ := a.([]T)
	return append(prev, b...)
}

// AppendRows appends t's rows to acc (zero: none yet).
func AppendRows(acc, t HostTensor) HostTensor {
	if acc.Data == nil {
		acc = HostTensor{Shape: slices.Clone(t.Shape), Elem: t.Elem}
		acc.Shape[0] = 0
	}
	acc.Shape[0] += t.Shape[0]
	switch d := t.Data.(type) {
	case []float32:
		acc.Data = joinData(acc.Data, d)
	case []float64:
		acc.Data = joinData(acc.Data, d)
	case []int64:
		acc.Data = joinData(acc.Data, d)
	case []int32:
		acc.Data = joinData(acc.Data, d)
	case []uint8:
		acc.Data = joinData(acc.Data, d)
	case []uint16:
		acc.Data = joinData(acc.Data, d)
	case []bool:
		acc.Data = joinData(acc.Data, d)
	case []string:
		acc.Data = joinData(acc.Data, d)
	}
	return acc
}
