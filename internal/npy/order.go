package npy

// fortranToC returns the elements of a column-major (Fortran-order) array
// of the given shape, each size bytes, in row-major (C) order. Arrays of
// rank below 2 are the same in both orders and are returned as they are.
// It costs a second buffer of the data's size.
func fortranToC(data []byte, shape []int, size int) []byte {
	if len(shape) < 2 || len(data) == 0 {
		return data
	}
	if len(shape) == 2 {
		return transpose2(data, shape[1], shape[0], size)
	}
	// stride[k] is the byte distance between consecutive indices along
	// axis k in the column-major source.
	rank := len(shape)
	stride := make([]int, rank)
	stride[0] = size
	for k := 1; k < rank; k++ {
		stride[k] = stride[k-1] * shape[k-1]
	}
	out := make([]byte, len(data))
	last, step := shape[rank-1], stride[rank-1]
	idx := make([]int, rank-1) // index over all but the last axis
	src := 0                   // source offset of idx with the last index 0
	for dst := 0; dst < len(out); {
		// The last axis is contiguous in the output and strided in the
		// source.
		for j, s := 0, src; j < last; j, s = j+1, s+step {
			copy(out[dst:dst+size], data[s:s+size])
			dst += size
		}
		// Advance idx like an odometer, last of its axes fastest.
		for k := rank - 2; k >= 0; k-- {
			idx[k]++
			src += stride[k]
			if idx[k] < shape[k] {
				break
			}
			src -= idx[k] * stride[k]
			idx[k] = 0
		}
	}
	return out
}

// transpose2 returns the [cols, rows] transpose of the row-major [rows,
// cols] data, in tiles so that both the reads and the writes of a tile stay
// in cache (a table of a GiB transposes in a second or two, not ten).
func transpose2(data []byte, rows, cols, size int) []byte {
	const tile = 32
	out := make([]byte, len(data))
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(i0+tile, rows)
		for j0 := 0; j0 < cols; j0 += tile {
			j1 := min(j0+tile, cols)
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					s, d := (i*cols+j)*size, (j*rows+i)*size
					copy(out[d:d+size], data[s:s+size])
				}
			}
		}
	}
	return out
}
