package tokenizer

// Replaced by the Precompiled normalizer when it lands.
func newPrecompiled(string) (normalizer, error) { return nil, unsupported("normalizer", "Precompiled") }
