package learner

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// scaled returns data times s, computed in float64.
func scaled(data []float32, s float64) []float32 {
	out := make([]float32, len(data))
	for i, v := range data {
		out[i] = float32(float64(v) * s)
	}
	return out
}

// TestScaleInvariance learns the same table at scales from 1e-30 to 1e20:
// the relative error must be the same as at scale 1 (the codes identical at
// powers of two), never NaN, and the codebook must be at the table's scale.
func TestScaleInvariance(t *testing.T) {
	const V, D = 400, 12
	base := gaussian(V, D, 31)
	for _, method := range []string{MethodAQ, MethodDCCL} {
		cfg := Config{M: 3, K: 8, Seed: 1, Method: method, Epochs: 15, Batch: 32, LR: 1e-2, Iterations: 4}
		ref := mustLearn(t, base, V, D, cfg)
		for _, tc := range []struct {
			scale     float64
			sameCodes bool
		}{
			{1e20, false}, {1e19, false}, {1e-30, false}, {0x1p60, true}, {0x1p-90, true}, {3, false},
		} {
			data := scaled(base, tc.scale)
			c := cfg
			c.Progress = func(p Progress) {
				if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
					t.Errorf("%s scale %g: %s step %d reports loss %v", method, tc.scale, p.Phase, p.Step, p.Loss)
				}
			}
			res := mustLearn(t, data, V, D, c)
			// dccl's float32 training diverges from the same start on
			// tables that differ in their last bits; its error only stays
			// close.
			got, want := res.Metrics.RelSqErr, ref.Metrics.RelSqErr
			tol := 0.02
			if method == MethodDCCL && !tc.sameCodes {
				tol = 0.15
			}
			if math.IsNaN(got) || math.Abs(got-want) > tol*want+1e-9 {
				t.Errorf("%s scale %g: RelSqErr %g, want %g as at scale 1", method, tc.scale, got, want)
			}
			if tc.sameCodes && !slices.Equal(res.Codes, ref.Codes) {
				t.Errorf("%s scale %g (a power of two): codes differ from scale 1", method, tc.scale)
			}
			if tc.sameCodes {
				for i, v := range res.Codebook {
					if w := float32(float64(ref.Codebook[i]) * tc.scale); v != w {
						t.Fatalf("%s scale %g: codebook[%d] = %g, want %g", method, tc.scale, i, v, w)
					}
				}
			}
		}
	}
}

// TestScaleInPlace learns tables with and without Config.ScaleInPlace: the
// same bytes, the input's values back (bit for bit) when Learn returns,
// and the input scaled meanwhile exactly when it can come back exactly (not
// when a value would underflow: a 1e20 table with one value of 1e-30).
func TestScaleInPlace(t *testing.T) {
	const V, D = 300, 8
	base := gaussian(V, D, 41)
	tiny := scaled(base, 1e20)
	tiny[5] = 1e-30
	for _, tc := range []struct {
		name    string
		data    []float32
		inPlace bool // the input is scaled while Learn runs
	}{
		{"1e20", scaled(base, 1e20), true}, {"1e-30", scaled(base, 1e-30), true}, {"1e20 with a 1e-30", tiny, false},
	} {
		cfg := Config{M: 2, K: 8, Seed: 3, Iterations: 3}
		want := mustLearn(t, tc.data, V, D, cfg)
		orig := slices.Clone(tc.data)
		cfg.ScaleInPlace = true
		scaledSeen := false
		cfg.Progress = func(Progress) { scaledSeen = scaledSeen || tc.data[0] != orig[0] }
		got := mustLearn(t, tc.data, V, D, cfg)
		if !slices.Equal(got.Codes, want.Codes) || !slices.Equal(got.Codebook, want.Codebook) {
			t.Errorf("%s: ScaleInPlace changed the codes or codebook", tc.name)
		}
		for i, v := range tc.data {
			if math.Float32bits(v) != math.Float32bits(orig[i]) {
				t.Fatalf("%s: data[%d] = %g after Learn, was %g", tc.name, i, v, orig[i])
			}
		}
		if scaledSeen != tc.inPlace {
			t.Errorf("%s: input scaled in place while learning: %v, want %v", tc.name, scaledSeen, tc.inPlace)
		}
	}
}

func TestDegenerateTables(t *testing.T) {
	const V, D = 200, 6
	constant := make([]float32, V*D)
	for i := range constant {
		constant[i] = 1e-30
	}
	oneRow := make([]float32, V*D)
	oneRow[3*D+2] = 5e20
	for _, tc := range []struct {
		name string
		data []float32
	}{
		{"zeros", make([]float32, V*D)},
		{"constant 1e-30", constant},
		{"one value 5e20", oneRow},
		{"max float32", scaled(gaussian(V, D, 3), 1e37)},
	} {
		for _, method := range []string{MethodAQ, MethodDCCL} {
			res := mustLearn(t, tc.data, V, D, Config{M: 2, K: 4, Seed: 1, Method: method, Epochs: 2})
			if e := res.Metrics.RelSqErr; math.IsNaN(e) || math.IsInf(e, 0) {
				t.Errorf("%s, %s: RelSqErr %g", tc.name, method, e)
			}
			if method == MethodAQ && tc.name != "max float32" && res.Metrics.RelSqErr > 1e-6 {
				t.Errorf("%s, aq: RelSqErr %g, want ~0 (at most 2 distinct rows)", tc.name, res.Metrics.RelSqErr)
			}
		}
	}
}

// TestBadValuesNamed checks that NaN and infinities are refused with the
// row and column named, wherever they are.
func TestBadValuesNamed(t *testing.T) {
	const V, D = 50, 5
	for _, tc := range []struct {
		v        float32
		row, col int
	}{
		{float32(math.NaN()), 0, 0}, {float32(math.Inf(1)), 49, 4}, {float32(math.Inf(-1)), 17, 2},
	} {
		data := gaussian(V, D, 1)
		data[tc.row*D+tc.col] = tc.v
		_, err := Learn(context.Background(), data, V, D, Config{M: 2, K: 4})
		want := fmt.Sprintf("row %d column %d", tc.row, tc.col)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v at (%d, %d): error %v, want one naming %q", tc.v, tc.row, tc.col, err, want)
		}
	}
}

// f16bits converts f to IEEE half-precision bits by bit manipulation (round
// to nearest even), independently of roundDType; f16value converts back.
func f16bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp >= 31 {
		return sign | 0x7c00
	}
	if exp <= 0 {
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		if rem := mant & (1<<shift - 1); rem > half || rem == half && r&1 == 1 {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++
	}
	return sign | uint16(r)
}

func f16value(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	if exp == 0 {
		return float32(sign * math.Ldexp(mant, -24))
	}
	return float32(sign * math.Ldexp(1024+mant, exp-25))
}

func TestRoundDType(t *testing.T) {
	for _, v := range []float32{1, -1, 0.1, 3.14159, 65504, 65519, 1e-5, 6e-8, 2.9e-8, 3e-8, -7.77e-6, 1234.5678, 0.000061} {
		if got, want := float32(roundDType(float64(v), DTypeFloat16)), f16value(f16bits(v)); got != want {
			t.Errorf("float16(%g) = %g, want %g", v, got, want)
		}
	}
	if r := roundDType(65520, DTypeFloat16); !math.IsInf(r, 1) {
		t.Errorf("float16(65520) = %g, want +Inf", r)
	}
	for _, v := range []float32{1, 0.1, -3.14159, 1e30, 1e-39, 1.00390625, 1.01171875} {
		b := math.Float32bits(v)
		b += 0x7fff + (b >> 16 & 1)
		want := math.Float32frombits(b &^ 0xffff)
		if got := float32(roundDType(float64(v), DTypeBFloat16)); got != want {
			t.Errorf("bfloat16(%g) = %g, want %g", v, got, want)
		}
	}
}

func TestCodebookDType(t *testing.T) {
	const V, D = 600, 16
	for _, tc := range []struct {
		dtype string
		scale float64
	}{{DTypeFloat16, 1}, {DTypeFloat16, 1e-3}, {DTypeBFloat16, 1}, {DTypeBFloat16, 1e20}} {
		data := scaled(gaussian(V, D, 41), tc.scale)
		for _, method := range []string{MethodAQ, MethodDCCL} {
			cfg := Config{M: 4, K: 16, Seed: 2, Method: method, Epochs: 2, Iterations: 4}
			plain := mustLearn(t, data, V, D, cfg)
			naive, err := roundScaled(plain.Codebook, 0, tc.dtype)
			if err != nil {
				t.Fatal(err)
			}
			naiveErr := Measure(data, V, D, Encoded{M: 4, K: 16, Codes: plain.Codes, Codebook: naive}, nil).RelSqErr
			cfg.CodebookDType = tc.dtype
			res := mustLearn(t, data, V, D, cfg)
			for i, v := range res.Codebook {
				r := float32(roundDType(float64(v), tc.dtype))
				if tc.dtype == DTypeFloat16 {
					r = f16value(f16bits(v))
				}
				if r != v {
					t.Fatalf("%s x%g %s: codebook[%d] = %g is not a %s value (%g)", tc.dtype, tc.scale, method, i, v, tc.dtype, r)
				}
			}
			if res.Metrics.RelSqErr > naiveErr {
				t.Errorf("%s x%g %s: RelSqErr %g, worse than naive rounding %g", tc.dtype, tc.scale, method, res.Metrics.RelSqErr, naiveErr)
			}
			t.Logf("%s x%g %s: float32 %.5f naive %.5f learned %.5f", tc.dtype, tc.scale, method, plain.Metrics.RelSqErr, naiveErr, res.Metrics.RelSqErr)
		}
	}
	if _, err := Learn(context.Background(), scaled(gaussian(V, D, 1), 1e6), V, D, Config{M: 2, K: 4, CodebookDType: DTypeFloat16}); err == nil || !strings.Contains(err.Error(), "float16") {
		t.Errorf("table of 1e6 in float16: error %v, want out of range", err)
	}
	if _, err := Learn(context.Background(), gaussian(V, D, 1), V, D, Config{M: 2, K: 4, CodebookDType: "int8"}); err == nil || !strings.Contains(err.Error(), "int8") {
		t.Errorf("dtype int8: error %v, want it refused", err)
	}
}

// keyExcluded lists the Config fields that Key deliberately leaves out.
var keyExcluded = map[string]string{
	"Threads":      "results do not depend on the thread count",
	"Progress":     "a callback, not a setting",
	"ScaleInPlace": "where the scaled table lives, not what is learned",
}

// keyWithLimit lists the fields that change what is learned only under a
// time limit, which Key counts only then.
var keyWithLimit = map[string]bool{"ReencodeAfter": true}

// TestKeyCoversConfig sets every exported field of Config in turn to a
// non-zero value and checks that Key changes, unless the field is listed in
// keyExcluded (where it must not change); a field of keyWithLimit must
// change it with a time limit and not without.
func TestKeyCoversConfig(t *testing.T) {
	zero := Config{}.Key()
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		var c Config
		v := reflect.ValueOf(&c).Elem().Field(i)
		switch v.Kind() {
		case reflect.Int, reflect.Int64:
			v.SetInt(7)
		case reflect.Float64:
			v.SetFloat(0.37)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		case reflect.Func:
			v.Set(reflect.MakeFunc(v.Type(), func([]reflect.Value) []reflect.Value { return nil }))
		default:
			t.Fatalf("field %s has kind %s: extend this test", f.Name, v.Kind())
		}
		if keyWithLimit[f.Name] {
			if c.Key() != zero {
				t.Errorf("Config.%s changes Key without a time limit", f.Name)
			}
			c.TimeLimit = time.Second
			if c.Key() == (Config{TimeLimit: time.Second}).Key() {
				t.Errorf("Config.%s does not change Key under a time limit", f.Name)
			}
			continue
		}
		changed := c.Key() != zero
		if _, excl := keyExcluded[f.Name]; excl && changed {
			t.Errorf("Config.%s is excluded from Key but changes it", f.Name)
		} else if !excl && !changed {
			t.Errorf("Config.%s does not change Key: hash it in Config.Key or list it in keyExcluded", f.Name)
		}
	}
	a := Config{M: 4, K: 8, Weights: []float32{1, 2, 3}}
	b := Config{M: 4, K: 8, Weights: []float32{1, 2, 3}, Threads: 3}
	c := Config{M: 4, K: 8, Weights: []float32{1, 2, 4}}
	if a.Key() != b.Key() {
		t.Errorf("equal weights (and a different thread count) give different keys")
	}
	if a.Key() == c.Key() {
		t.Errorf("different weights give the same key")
	}
	if (Config{Method: ""}).Key() != (Config{Method: MethodAQ}).Key() {
		t.Errorf(`methods "" and "aq" give different keys`)
	}
}

func TestStopping(t *testing.T) {
	const V, D = 800, 16
	data := gaussian(V, D, 51)
	for _, method := range []string{MethodAQ, MethodDCCL} {
		cfg := Config{M: 4, K: 16, Seed: 1, Method: method, Iterations: 12, Epochs: 12, LR: 1e-2}
		full := mustLearn(t, data, V, D, cfg)
		if !strings.HasPrefix(full.Stopped, "completed") && full.Stopped != stoppedConverged {
			t.Errorf("%s: Stopped = %q, want completed or converged", method, full.Stopped)
		}
		cfg.TargetError = full.Metrics.RelSqErr * 1.3
		res := mustLearn(t, data, V, D, cfg)
		if !strings.Contains(res.Stopped, "target error") {
			t.Errorf("%s: Stopped = %q with target %g, want the target", method, res.Stopped, cfg.TargetError)
		}
		if method == MethodAQ && res.Metrics.RelSqErr > cfg.TargetError {
			t.Errorf("%s: error %g above target %g", method, res.Metrics.RelSqErr, cfg.TargetError)
		}
		cfg.TargetError = 0
		cfg.Iterations, cfg.Epochs = 100000, 100000
		cfg.TimeLimit = 200 * time.Millisecond
		res = mustLearn(t, data, V, D, cfg)
		if !strings.HasPrefix(res.Stopped, "time limit") || res.Elapsed > 3*time.Second {
			t.Errorf("%s: Stopped = %q after %v with a 300ms limit", method, res.Stopped, res.Elapsed)
		}
		if e := res.Metrics.RelSqErr; math.IsNaN(e) || e > 1 {
			t.Errorf("%s: error %g after the time limit", method, e)
		}
	}
}
