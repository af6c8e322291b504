// Package freemem gives a large table's memory back once it is let go: the
// learner's residuals after its initialisation, compress's table and its
// transform. Go's heap otherwise grows to twice its size at the last
// collection before it collects again, and a plain collection leaves the
// freed pages resident while the next table-sized buffer takes fresh ones
// (compress of a 1 GiB table: peak RSS 3.1 GiB with runtime.GC alone
// after the table was let go).
package freemem

import "runtime/debug"

// largeBytes is the size from which a table is worth a collection.
const largeBytes = 256 << 20

// IfLarge collects and returns freed memory to the operating system when
// n float32 values, just let go, were at least 256 MiB.
func IfLarge(n int) {
	if int64(n)*4 >= largeBytes {
		debug.FreeOSMemory()
	}
}
