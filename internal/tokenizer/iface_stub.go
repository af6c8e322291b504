package tokenizer

// normalizer rewrites a piece of text before it is split into words.
// (Stub for this branch; the package's normalize.go declares it.)
type normalizer interface {
	normalize(s string) string
}
