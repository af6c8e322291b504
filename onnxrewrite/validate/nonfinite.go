package validate

import (
	"encoding/json"
	"fmt"
	"math"
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
