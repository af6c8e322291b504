package validate

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// nonFinite fails an output whose NaN or infinities do not match between
// the two models, or that has no finite element where both agree: its
// difference and cosine are NaN (not the 0 and 1 of the finite elements
// alone), and no decision gate can pass it, since a NaN decides nothing.
func nonFinite(o OutputReport, finite, n int) OutputReport {
	o.MaxAbsDiff, o.MaxRelDiff, o.Cosine = math.NaN(), math.NaN(), math.NaN()
	o.WithinTolerance, o.Pass = false, false
	if o.NonFiniteMismatches > 0 {
		o.Reason = fmt.Sprintf("outside tolerance: max abs diff NaN: %d of %d elements are NaN or infinite in one model and not the same in the other", o.NonFiniteMismatches, n)
		return o
	}
	o.Reason = fmt.Sprintf("not comparable: all %d elements are NaN or infinite in both models, so nothing shows they agree", n)
	return o
}

// jsonFloat is a float64 that encodes NaN and the infinities as the
// strings "NaN", "+Inf" and "-Inf" (JSON has no such numbers).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// MarshalJSON writes an OutputReport with NaN differences as "NaN".
func (o OutputReport) MarshalJSON() ([]byte, error) {
	type plain OutputReport
	return json.Marshal(struct {
		plain
		MaxAbsDiff jsonFloat `json:"max_abs_diff"`
		MaxRelDiff jsonFloat `json:"max_rel_diff"`
		Cosine     jsonFloat `json:"cosine"`
	}{plain(o), jsonFloat(o.MaxAbsDiff), jsonFloat(o.MaxRelDiff), jsonFloat(o.Cosine)})
}

// compareStrings compares string outputs element by element: they pass
// when all are equal.
func compareStrings(o OutputReport, a []string, b ort.HostTensor) OutputReport {
	sb, ok := b.Data.([]string)
	if !ok || len(sb) != len(a) {
		o.Reason = fmt.Sprintf("cannot compare outputs of types %T and %T", a, b.Data)
		return o
	}
	agree := 0
	for i := range a {
		if a[i] == sb[i] {
			agree++
		}
	}
	share := 1.0
	if len(a) > 0 {
		share = float64(agree) / float64(len(a))
	}
	o.DecisionKind, o.Decisions, o.Agreement, o.Cosine = "equal", len(a), &share, 1
	o.WithinTolerance = agree == len(a)
	o.Pass = o.WithinTolerance
	o.Reason = fmt.Sprintf("%d of %d strings equal", agree, len(a))
	return o
}
